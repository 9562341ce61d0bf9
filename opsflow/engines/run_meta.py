"""What opsflow keeps in a run's flow-detail metadata: one typed owner, one namespace.

A run is one TaskFlow flow detail; everything opsflow needs to rebuild and operate it anywhere —
the definition texts, the inputs, durable task memory (waits), a pause — lives
in its metadata under :data:`META_KEY`, read and written only through :class:`RunMeta`. Other
modules never index the metadata mapping themselves, so its layout can change in one place.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from typing import Any

from opsflow.engines.children.batch import ParentLink
from opsflow.flows.model import FlowDefinition, OnFailure

__all__ = ["META_KEY", "RunMeta", "StoredText", "identity"]

#: Key of opsflow's own data inside a flow detail's metadata.
META_KEY = "opsflow"


def identity(source: str, text: str) -> str:
    """A definition's resolved identity: where it was read and a hash of what it says."""
    return f"{source}@sha256:{hashlib.sha256(text.encode()).hexdigest()[:20]}"


@dataclasses.dataclass(frozen=True)
class StoredText:
    """A definition's YAML text and where it came from (for messages and sub-flow resolution)."""

    #: The file (or ``<string>``) the text was loaded from.
    source: str
    #: The YAML text itself.
    text: str


@dataclasses.dataclass(frozen=True)
class RunMeta:
    """A run's metadata; the frozen value is replaced (``with_...``) and written back whole."""

    #: The top-level definition.
    definition: StoredText
    #: Every sub-flow it uses, by identity (:func:`identity`: path and content hash), each once.
    subflows: Mapping[str, StoredText]
    #: The validated inputs the run started with.
    inputs: Mapping[str, Any]
    #: What a failure does (the operator may override the definition's with ``--on-failure``).
    on_failure: OnFailure
    #: When the run was created (epoch seconds).
    created: float
    #: Durable per-task memory: task path -> key -> value (a wait's due time and signal).
    memory: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    #: Signals delivered to runs stored before signals became facts of their own
    #: (:mod:`opsflow.engines.signals`); read, never written any more.
    signals: tuple[str, ...] = ()
    #: When the run paused for an operator; None unless it is paused.
    paused_at: float | None = None
    #: For a child run: the parent run, task and item it runs.
    parent: ParentLink | None = None
    #: Which sub-flow each ``flow:`` resolved to: identity of the referring definition -> reference
    #: -> identity of the sub-flow. Two files may both say ``flow: leaf`` and mean different files.
    #: Empty for runs stored before identities, whose ``subflows`` are keyed by the bare reference.
    links: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=dict)

    @classmethod
    def new(cls, definition: FlowDefinition, inputs: Mapping[str, Any], created: float,
            parent: ParentLink | None = None) -> RunMeta:
        """The metadata of a new run of ``definition``."""
        subflows: dict[str, StoredText] = {}
        links: dict[str, dict[str, str]] = {}

        def collect(defn: FlowDefinition) -> None:
            for ref, sub in defn.subflows.items():
                subflows[identity(sub.source, sub.text)] = StoredText(sub.source, sub.text)
                links.setdefault(identity(defn.source, defn.text), {})[ref] = identity(sub.source, sub.text)
                collect(sub)

        collect(definition)
        return cls(
            definition=StoredText(definition.source, definition.text),
            subflows=subflows,
            inputs=dict(inputs),
            on_failure=definition.on_failure,
            created=created,
            parent=parent,
            links=links,
        )

    @staticmethod
    def present(meta: Mapping[str, Any] | None) -> bool:
        """True when a flow detail's metadata is an opsflow run's."""
        return META_KEY in (meta or {})

    @classmethod
    def of(cls, meta: Mapping[str, Any]) -> RunMeta:
        """Read it back from a flow detail's metadata."""
        ours = meta[META_KEY]
        return cls(
            definition=StoredText(**ours["definition"]),
            subflows={ref: StoredText(**item) for ref, item in ours["subflows"].items()},
            inputs=dict(ours["inputs"]),
            on_failure=OnFailure(ours.get("on_failure", OnFailure.REVERT.value)),
            created=float(ours.get("created", 0.0)),
            memory={path: dict(slot) for path, slot in (ours.get("memory") or {}).items()},
            signals=tuple(ours.get("signals", ())),
            paused_at=ours.get("paused_at"),
            parent=ParentLink.from_json(ours.get("parent")),
            links={parent: dict(refs) for parent, refs in (ours.get("links") or {}).items()},
        )

    def to_meta(self) -> dict[str, Any]:
        """The flow-detail metadata holding it (``detail.meta = ...`` or ``update_flow_metadata``)."""
        return {
            META_KEY: {
                "definition": dataclasses.asdict(self.definition),
                "subflows": {ref: dataclasses.asdict(item) for ref, item in self.subflows.items()},
                "inputs": dict(self.inputs),
                "on_failure": self.on_failure.value,
                "created": self.created,
                "memory": {path: dict(slot) for path, slot in self.memory.items()},
                "signals": list(self.signals),
                "paused_at": self.paused_at,
                **({"parent": self.parent.to_json()} if self.parent is not None else {}),
                **({"links": {parent: dict(refs) for parent, refs in self.links.items()}} if self.links else {}),
            }
        }

    def with_memory(self, path: str, key: str, value: Any) -> RunMeta:
        """A copy with ``memory[path][key] = value``."""
        memory = {p: dict(slot) for p, slot in self.memory.items()}
        memory.setdefault(path, {})[key] = value
        return dataclasses.replace(self, memory=memory)

    def waits(self, done: set[str]) -> dict[str, tuple[float | None, str | None]]:
        """Waits not yet over: task path -> (due time or None, signal or None); ``done`` tasks excluded."""
        return {
            path: (slot.get("due"), slot.get("signal"))
            for path, slot in self.memory.items()
            if "due" in slot and path not in done
        }
