"""Parse YAML into plain Python values while remembering where every value came from.

PyYAML's safe loader throws the marks away once it builds Python objects, but every later check
(unknown action, cycle, bad reference) must still point at a line. So we compose the node tree and
convert it ourselves, keeping each node's start mark under its path from the document root.

Definitions may come from users (the service API accepts them), so parsing is bounded: a text
longer than :attr:`Limits.CHARS`, values nested deeper than :attr:`Limits.DEPTH`, more than
:attr:`Limits.NODES` values once aliases and merge keys are expanded (the "billion laughs"), or a
scalar longer than :attr:`Limits.SCALAR` is refused with the position where the bound was crossed.
Composing is linear in the text (aliases stay shared nodes, libyaml caps nesting at 1000), and the
conversion below stops at the first bound, so time and memory stay proportional to the limits.

Every YAML file opsflow reads (definitions, profiles, policies, plans, host access) goes through
:func:`read`, so each gets the same bounds and the same :class:`DefinitionError` wording.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from typing import Any

import yaml

from opsflow.errors import DefinitionError

__all__ = ["Document", "Limits", "Path", "parse", "read", "read_text"]

class _Composer(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's composer when PyYAML was built with it (about 10x faster), else the pure-Python one.

    PyYAML follows YAML 1.1, where ``1e3`` and ``5E-1`` are strings (a float needs a dot); every
    operator writes them as numbers, as YAML 1.2 and JSON read them, so they resolve to floats here.
    """


_Composer.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)

#: A location inside a document: mapping keys and sequence indexes from the root.
Path = tuple[str | int, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"


class Limits:
    """The bounds every parsed definition must stay within (stated in the README)."""

    #: Characters in one document (1 MiB; a 1,000-task flow is about 50 KB).
    CHARS = 1 << 20
    #: Nesting depth of mappings and sequences.
    DEPTH = 64
    #: Values (mappings, sequences, scalars, keys) after expanding every alias and merge key.
    NODES = 200_000
    #: Characters in one scalar.
    SCALAR = 64 * 1024


@dataclasses.dataclass(frozen=True)
class Document:
    """A parsed YAML document and the 1-based line/column of every value in it."""

    #: Where the text came from (a file path or ``<string>``); used in every error.
    source: str
    #: The document as plain dicts, lists and scalars.
    value: Any
    #: Path -> (line, column), both 1-based, for every mapping, sequence, scalar and key.
    marks: dict[Path, tuple[int, int]]

    def mark(self, path: Path) -> tuple[int, int]:
        """The position of ``path``, or of its nearest ancestor that has one."""
        while path not in self.marks and path:
            path = path[:-1]
        return self.marks.get(path, (1, 1))

    def error(self, path: Path, message: str) -> DefinitionError:
        """A :class:`DefinitionError` pointing at ``path``."""
        line, column = self.mark(path)
        return DefinitionError(message, source=self.source, line=line, column=column)


def parse(text: str, source: str = "<string>") -> Document:
    """Parse one YAML document; malformed YAML raises :class:`DefinitionError` at the bad spot."""
    if len(text) > Limits.CHARS:
        line = text.count("\n", 0, Limits.CHARS) + 1
        column = Limits.CHARS - text.rfind("\n", 0, Limits.CHARS)
        raise DefinitionError(f"the document is longer than {Limits.CHARS} characters; split it into sub-flows",
                              source=source, line=line, column=column)
    try:
        node = yaml.compose(text, Loader=_Composer)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "malformed YAML"
        raise DefinitionError(
            f"malformed YAML: {problem}; fix the syntax at this position", source=source, line=line, column=column
        ) from exc
    except yaml.YAMLError as exc:
        raise DefinitionError(f"malformed YAML: {exc}", source=source, line=1, column=1) from exc
    except ValueError as exc:  # e.g. an unpaired surrogate in the text
        raise DefinitionError(f"unreadable text: {exc}", source=source, line=1, column=1) from exc
    except RecursionError as exc:  # only PyYAML's pure-Python composer recurses; libyaml caps depth itself
        raise DefinitionError(f"values nested too deep to parse; at most {Limits.DEPTH} levels", source=source,
                              line=1, column=1) from exc
    marks: dict[Path, tuple[int, int]] = {}
    if node is None:
        return Document(source, None, {(): (1, 1)})
    value = _Converter(source).convert(node, (), marks)
    return Document(source, value, marks)


def read_text(path: str | os.PathLike[str]) -> str:
    """A YAML file's text; a file that cannot be read raises :class:`DefinitionError` naming it.

    Reads at most one character more than a document may have, so a huge file is refused by the
    parser's length bound without being read whole. No position is made up (see DefinitionError).
    """
    source = os.fspath(path)
    try:
        with open(source, encoding="utf-8") as handle:
            return handle.read(Limits.CHARS + 1)
    except FileNotFoundError as exc:
        raise DefinitionError("no such file; check the path", source=source) from exc
    except UnicodeDecodeError as exc:
        raise DefinitionError(f"not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8",
                              source=source) from exc
    except OSError as exc:
        raise DefinitionError(f"cannot read the file: {exc.strerror or exc}; check that it is a readable file",
                              source=source) from exc


def read(path: str | os.PathLike[str]) -> Document:
    """The YAML document in the file at ``path``, read and parsed within :class:`Limits`."""
    return parse(read_text(path), os.fspath(path))


class SafeConstructor(yaml.SafeLoader):
    """Builds scalars exactly as ``yaml.safe_load`` would (ints, bools, timestamps, ...)."""

    def __init__(self) -> None:
        super().__init__("")


def _at(node: yaml.Node, source: str, message: str) -> DefinitionError:
    return DefinitionError(message, source=source, line=node.start_mark.line + 1, column=node.start_mark.column + 1)


class _Converter:
    """Node tree -> plain values, within :class:`Limits` (aliases are expanded, so they are counted)."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._builder = SafeConstructor()
        self._nodes = 0
        self._merged_sizes: dict[int, int] = {}

    def convert(self, node: yaml.Node, path: Path, marks: dict[Path, tuple[int, int]], depth: int = 0) -> Any:
        self._count(node, depth)
        marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, marks, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, path + (index,), marks, depth + 1) for index, item in enumerate(node.value)]
        if len(node.value) > Limits.SCALAR:
            raise _at(node, self._source, f"a value longer than {Limits.SCALAR} characters; shorten it")
        try:
            value = self._builder.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            raise _at(node, self._source, f"cannot read value: {exc.problem}") from exc
        except ValueError as exc:  # e.g. a timestamp PyYAML recognises but cannot build (month 13)
            raise _at(node, self._source, f"cannot read value: {exc}; quote it to keep it a string") from exc
        if isinstance(value, float) and not math.isfinite(value):
            # NaN passes every comparison (`minimum: 0` included) and infinities overflow timers.
            raise _at(node, self._source, f"{node.value!r} is not a number a flow can use; give a finite one")
        return value

    def _count(self, node: yaml.Node, depth: int) -> None:
        self._nodes += 1
        if self._nodes > Limits.NODES:
            raise _at(node, self._source, f"more than {Limits.NODES} values once aliases are expanded; "
                      f"use fewer aliases or split the document")
        if depth > Limits.DEPTH:
            raise _at(node, self._source, f"values nested deeper than {Limits.DEPTH} levels (or an alias that "
                      f"contains itself); flatten the structure")

    def _mapping(self, node: yaml.MappingNode, path: Path, marks: dict[Path, tuple[int, int]], depth: int) -> Any:
        if self._merged_size(node) > Limits.NODES:
            raise _at(node, self._source, f"merge keys (<<) expand to more than {Limits.NODES} entries; "
                      f"merge fewer mappings")
        own = sum(key_node.tag != _MERGE_TAG for key_node, _value in node.value)
        # Resolves merge keys (<<) the way safe_load does: merged entries first, then the mapping's
        # own, so later assignments let its own keys override merged ones.
        self._builder.flatten_mapping(node)
        first_own = len(node.value) - own
        result: dict[str, Any] = {}
        own_keys: set[str] = set()
        for index, (key_node, value_node) in enumerate(node.value):
            key = self.convert(key_node, path + ("<key>",), {}, depth + 1)
            if not isinstance(key, str):
                raise _at(key_node, self._source, f"mapping key {key!r} is not a string; quote it")
            if index >= first_own:
                if key in own_keys:
                    raise _at(key_node, self._source, f"duplicate key {key!r}; each key may appear once per mapping")
                own_keys.add(key)
            result[key] = self.convert(value_node, path + (key,), marks, depth + 1)
        return result

    def _merged_size(self, node: yaml.MappingNode, depth: int = 0) -> int:
        """Entries of ``node`` once its merge keys are flattened, without flattening (memoised, so linear)."""
        known = self._merged_sizes.get(id(node))
        if known is not None:
            return known
        if depth > Limits.DEPTH:
            raise _at(node, self._source, f"merge keys (<<) chained deeper than {Limits.DEPTH} levels; merge less")
        self._merged_sizes[id(node)] = 0  # a merge that includes itself adds nothing
        size = 0
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE_TAG:
                size += 1
                continue
            merged = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            size += sum(self._merged_size(item, depth + 1) for item in merged if isinstance(item, yaml.MappingNode))
        self._merged_sizes[id(node)] = size
        return size
