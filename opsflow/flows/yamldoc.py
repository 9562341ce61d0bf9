"""Parse YAML into plain Python values while remembering where every value came from.

PyYAML's safe loader throws the marks away once it builds Python objects, but every later check
(unknown action, cycle, bad reference) must still point at a line. So we compose the node tree and
convert it ourselves, keeping each node's start mark under its path from the document root.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import yaml

from opsflow.errors import DefinitionError

__all__ = ["Document", "Path", "parse"]

#: libyaml's composer when PyYAML was built with it (about 10x faster), else the pure-Python one.
_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: A location inside a document: mapping keys and sequence indexes from the root.
Path = tuple[str | int, ...]


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
    try:
        node = yaml.compose(text, Loader=_COMPOSER)
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
    marks: dict[Path, tuple[int, int]] = {}
    if node is None:
        return Document(source, None, {(): (1, 1)})
    value = _convert(node, (), marks, source, SafeConstructor())
    return Document(source, value, marks)


class SafeConstructor(yaml.SafeLoader):
    """Builds scalars exactly as ``yaml.safe_load`` would (ints, bools, timestamps, ...)."""

    def __init__(self) -> None:
        super().__init__("")


def _convert(
    node: yaml.Node, path: Path, marks: dict[Path, tuple[int, int]], source: str, builder: SafeConstructor
) -> Any:
    marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        builder.flatten_mapping(node)  # resolves YAML merge keys (<<) the way safe_load does
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _convert(key_node, path + ("<key>",), {}, source, builder)
            if not isinstance(key, str):
                line, column = key_node.start_mark.line + 1, key_node.start_mark.column + 1
                raise DefinitionError(
                    f"mapping key {key!r} is not a string; quote it", source=source, line=line, column=column
                )
            if key in result:
                line, column = key_node.start_mark.line + 1, key_node.start_mark.column + 1
                raise DefinitionError(
                    f"duplicate key {key!r}; each key may appear once per mapping",
                    source=source,
                    line=line,
                    column=column,
                )
            result[key] = _convert(value_node, path + (key,), marks, source, builder)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, path + (index,), marks, source, builder) for index, item in enumerate(node.value)]
    try:
        return builder.construct_object(node, deep=True)
    except yaml.constructor.ConstructorError as exc:
        line, column = node.start_mark.line + 1, node.start_mark.column + 1
        raise DefinitionError(
            f"cannot read value: {exc.problem}", source=source, line=line, column=column
        ) from exc
    except ValueError as exc:  # e.g. a timestamp PyYAML recognises but cannot build (month 13)
        line, column = node.start_mark.line + 1, node.start_mark.column + 1
        raise DefinitionError(f"cannot read value: {exc}; quote it to keep it a string", source=source,
                              line=line, column=column) from exc
