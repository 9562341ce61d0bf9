"""JSON form of TaskFlow's logbooks, flow details and atom details, shared by opsflow's backends.

Identity (uuid, name, and for atoms the detail type) is kept apart from the mutable state, so a
backend can store it once and overwrite only the state on update: that is what makes an update one
statement (SQLite) or one ``set`` (ZooKeeper). TaskFlow's merge rules make this exact: merging an
update into a stored detail replaces every field except uuid and name (``AtomDetail.merge``,
``FlowDetail.merge``, ``LogBook.merge``), so the update's own state *is* the merged state.

Values the standard ``json`` module cannot encode (datetimes, sets, objects with ``to_dict``...)
go through oslo.serialization's ``to_primitive``, as TaskFlow's own backends do, so what one
backend can store the others can too.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from oslo_serialization import jsonutils
from taskflow.persistence import models

__all__ = [
    "atom_state",
    "book_state",
    "dumps",
    "flow_state",
    "load_atom",
    "load_book",
    "load_flow",
]

#: Fields of ``AtomDetail.to_dict()`` that are identity, stored apart from the state.
_IDENTITY = ("uuid", "name")

_encoder = json.JSONEncoder(default=jsonutils.to_primitive, separators=(",", ":"), check_circular=False)


def dumps(value: Any) -> str:
    """Encode ``value`` compactly, falling back to oslo's ``to_primitive`` for other types."""
    encoded: str = _encoder.encode(value)
    return encoded


def atom_state(atom: Any) -> dict[str, Any]:
    """The mutable part of an atom detail (everything but uuid and name), as plain data."""
    data: dict[str, Any] = atom.to_dict()
    for key in _IDENTITY:
        del data[key]
    return data


def load_atom(uuid: str, name: str, atom_type: str, state: dict[str, Any]) -> Any:
    """Rebuild an atom detail from its identity and stored state."""
    state["uuid"] = uuid
    state["name"] = name
    return models.atom_detail_class(atom_type).from_dict(state)


def flow_state(flow: Any) -> dict[str, Any]:
    """The mutable part of a flow detail, as plain data."""
    return {"state": flow.state, "meta": flow.meta}


def load_flow(uuid: str, name: str, data: dict[str, Any]) -> Any:
    """Rebuild a flow detail (without its atoms) from its identity and stored state."""
    flow = models.FlowDetail(name, uuid)
    flow.state = data.get("state")
    meta = data.get("meta")
    flow.meta = meta if isinstance(meta, dict) else {}
    return flow


def book_state(book: Any) -> dict[str, Any]:
    """The mutable part of a logbook, as plain data (times as ISO 8601)."""
    return {"meta": book.meta, "created_at": _iso(book.created_at), "updated_at": _iso(book.updated_at)}


def load_book(uuid: str, name: str, data: dict[str, Any]) -> Any:
    """Rebuild a logbook (without its flows) from its identity and stored state."""
    book = models.LogBook(name, uuid=uuid)
    book.created_at = _from_iso(data.get("created_at"))
    book.updated_at = _from_iso(data.get("updated_at"))
    meta = data.get("meta")
    book.meta = meta if isinstance(meta, dict) else {}
    return book


def _iso(when: datetime.datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


def _from_iso(text: str | None) -> datetime.datetime | None:
    return datetime.datetime.fromisoformat(text) if text else None
