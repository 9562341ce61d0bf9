"""Expressions inside flow definitions: ``${inputs.servers}``, ``${tasks.create.server.id}``, ``${item}``.

An expression is a reference path, never code: a root (``inputs``, ``tasks``, ``item``, ``index``)
followed by ``.name`` or ``[number]`` steps. A string that is exactly one ``${...}`` evaluates to the
referenced value with its type; a string with text around ``${...}`` is interpolated into a string.
Keeping the language this small is deliberate: every reference is known at load time, so the
compiler derives the dependency graph from it and a typo fails before anything runs.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from opsflow.errors import ExpressionError

__all__ = [
    "ROOTS",
    "Expression",
    "Reference",
    "compile_value",
    "evaluate_value",
    "parse_template",
    "references_of",
]

#: The names an expression may start with.
ROOTS = ("inputs", "tasks", "item", "index")

_TEMPLATE = re.compile(r"\$\{([^{}]*)\}")
_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[(-?\d+)\]")
_ROOT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclasses.dataclass(frozen=True)
class Reference:
    """One ``${...}`` reference: a root name and the steps below it."""

    #: ``inputs``, ``tasks``, ``item`` or ``index``.
    root: str
    #: Attribute names and list indexes after the root.
    steps: tuple[str | int, ...]
    #: The text between ``${`` and ``}``, for messages.
    text: str

    @property
    def head(self) -> str | None:
        """The input or task name a reference to ``inputs``/``tasks`` starts with."""
        if self.root in ("inputs", "tasks") and self.steps and isinstance(self.steps[0], str):
            return self.steps[0]
        return None

    def resolve(self, scope: Mapping[str, Any]) -> Any:
        """Follow the steps from ``scope[root]``; a missing key or index raises ExpressionError."""
        value = scope[self.root]
        for step in self.steps:
            try:
                if isinstance(step, int):
                    value = value[step]
                elif isinstance(value, Mapping):
                    value = value[step]
                else:
                    value = getattr(value, step)
            except (KeyError, IndexError, TypeError, AttributeError) as exc:
                raise ExpressionError(f"${{{self.text}}}: no {step!r} in {_describe(value)}") from exc
        return value


def _describe(value: Any) -> str:
    if isinstance(value, Mapping):
        return f"a mapping with keys {sorted(map(str, value))}"
    return f"a {type(value).__name__}"


def parse_reference(text: str) -> Reference:
    """Parse the inside of ``${...}``."""
    body = text.strip()
    root_match = _ROOT.match(body)
    if not root_match:
        raise ExpressionError(f"${{{text}}} must start with one of {', '.join(ROOTS)}")
    root = root_match.group(0)
    if root not in ROOTS:
        raise ExpressionError(f"${{{text}}}: unknown root {root!r}; use one of {', '.join(ROOTS)}")
    steps: list[str | int] = []
    position = root_match.end()
    while position < len(body):
        step = _STEP.match(body, position)
        if not step:
            raise ExpressionError(
                f"${{{text}}}: cannot read {body[position:]!r}; use .name or [number] steps"
            )
        steps.append(step.group(1) if step.group(1) is not None else int(step.group(2)))
        position = step.end()
    if root in ("inputs", "tasks") and not steps:
        raise ExpressionError(f"${{{text}}}: name which {root[:-1]}, e.g. ${{{root}.NAME}}")
    if root in ("inputs", "tasks") and not isinstance(steps[0], str):
        raise ExpressionError(f"${{{text}}}: {root} are named, not numbered")
    return Reference(root, tuple(steps), body)


@dataclasses.dataclass(frozen=True)
class Expression:
    """A string with ``${...}`` references, ready to evaluate against a scope."""

    #: The literal text pieces; ``len(parts) == len(references) + 1``.
    parts: tuple[str, ...]
    #: The references between the parts.
    references: tuple[Reference, ...]

    @property
    def is_whole(self) -> bool:
        """True when the string is exactly one reference, so the value keeps its type."""
        return len(self.references) == 1 and self.parts == ("", "")

    def evaluate(self, scope: Mapping[str, Any]) -> Any:
        """The referenced value (whole) or the interpolated string."""
        if self.is_whole:
            return self.references[0].resolve(scope)
        pieces = [self.parts[0]]
        for reference, part in zip(self.references, self.parts[1:]):
            pieces.append(str(reference.resolve(scope)))
            pieces.append(part)
        return "".join(pieces)


def parse_template(text: str) -> Expression | str:
    """An :class:`Expression` when ``text`` holds ``${...}``, else the text itself."""
    if "${" not in text:
        return text
    parts: list[str] = []
    references: list[Reference] = []
    position = 0
    for match in _TEMPLATE.finditer(text):
        parts.append(text[position : match.start()])
        references.append(parse_reference(match.group(1)))
        position = match.end()
    rest = text[position:]
    if "${" in rest:
        raise ExpressionError(f"unclosed or nested ${{ in {text!r}; write ${{root.path}}")
    parts.append(rest)
    return Expression(tuple(parts), tuple(references))


def compile_value(value: Any) -> Any:
    """Replace every templated string inside ``value`` (recursively) by an Expression."""
    if isinstance(value, str):
        return parse_template(value)
    if isinstance(value, list):
        return [compile_value(item) for item in value]
    if isinstance(value, dict):
        return {key: compile_value(item) for key, item in value.items()}
    return value


def references_of(value: Any) -> list[Reference]:
    """Every reference inside a compiled value, in document order."""
    if isinstance(value, Expression):
        return list(value.references)
    if isinstance(value, list):
        return [ref for item in value for ref in references_of(item)]
    if isinstance(value, dict):
        return [ref for item in value.values() for ref in references_of(item)]
    return []


def evaluate_value(value: Any, scope: Mapping[str, Any]) -> Any:
    """Evaluate every Expression inside a compiled value."""
    if isinstance(value, Expression):
        return value.evaluate(scope)
    if isinstance(value, list):
        return [evaluate_value(item, scope) for item in value]
    if isinstance(value, dict):
        return {key: evaluate_value(item, scope) for key, item in value.items()}
    return value
