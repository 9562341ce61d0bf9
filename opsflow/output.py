"""Turn command results (columns and rows) into text: table, JSON or bare values.

Commands return data; this module renders it, so ``-f json`` stays stable whatever the table
looks like — the way python-openstackclient's ``-f json -c name`` works.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from opsflow.errors import ConfigError

__all__ = ["FORMATS", "render_many", "render_one"]

#: Output formats every listing command accepts.
FORMATS = ("table", "json", "value")


def _pick(columns: Sequence[str], rows: Sequence[Sequence[Any]], wanted: Sequence[str]) -> tuple[list[str], list[list[Any]]]:
    if not wanted:
        return list(columns), [list(row) for row in rows]
    unknown = [name for name in wanted if name not in columns]
    if unknown:
        raise ConfigError(f"no column {unknown[0]!r}; columns are: {', '.join(columns)}")
    index = [list(columns).index(name) for name in wanted]
    return list(wanted), [[row[i] for i in index] for row in rows]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return str(value)


def render_many(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str, wanted: Sequence[str] = ()) -> str:
    """Render a listing."""
    columns, rows = _pick(columns, rows, wanted)
    if fmt == "json":
        return json.dumps([dict(zip(columns, row)) for row in rows], indent=2, default=str)
    if fmt == "value":
        return "\n".join(" ".join(_cell(value) for value in row) for row in rows)
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(name)] + [len(row[i]) for row in cells]) for i, name in enumerate(columns)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [line, "| " + " | ".join(name.ljust(w) for name, w in zip(columns, widths)) + " |", line]
    out += ["| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |" for row in cells]
    out.append(line)
    return "\n".join(out)


def render_one(fields: dict[str, Any], fmt: str, wanted: Sequence[str] = ()) -> str:
    """Render one object as field/value pairs."""
    columns, rows = _pick(list(fields), [list(fields.values())], wanted)
    record = dict(zip(columns, rows[0]))
    if fmt == "json":
        return json.dumps(record, indent=2, default=str)
    if fmt == "value":
        return "\n".join(_cell(value) for value in record.values())
    return render_many(["Field", "Value"], [[key, value] for key, value in record.items()], "table")
