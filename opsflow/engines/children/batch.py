"""One batch of child runs: which children a task starts, their ids, their lanes, and when it is over.

A task with ``for_each`` over another task's result and ``flow:`` starts one child run per item.
Everything about the batch is derived from facts that never change once the parent stored them
(its run id, the task's path, the item count and the bounds), so whoever looks at the batch --
the parent's own atom, the process driving the children, a conductor that finished one child,
another conductor after a kill -9 -- computes the same ids and the same order:

* a child's run id is a UUID5 of the parent's run id, the task path and the item index, so a
  restart finds the children it already made instead of starting them twice;
* ``concurrency: N`` runs the items in N lanes, item ``i`` after item ``i - N`` of its lane, as the
  compiler does for fan-outs over inputs: a lane's next child is known without asking anyone.
"""

from __future__ import annotations

import dataclasses
import enum
import uuid
from collections.abc import Mapping
from typing import Any, Protocol

from opsflow.flows.model import FlowDefinition, OnItemFailure

__all__ = ["BATCH_KEY", "DEFAULT_CONCURRENCY", "Batch", "ChildEnd", "ChildRuns", "ParentLink", "Progress"]

#: Durable-memory key of a batch's description in its parent's run (under the task's path).
BATCH_KEY = "batch"

#: Children running at once when the task says no ``concurrency``.
DEFAULT_CONCURRENCY = 10

_NAMESPACE = uuid.UUID("6f7b3c8e-0a4e-4c41-9a3b-5d2f0c9e7a11")


class ChildEnd(enum.Enum):
    """How a child run ended, as the parent's result reports it."""

    #: It ran to its end.
    SUCCEEDED = "succeeded"
    #: A task failed and the child undid itself (or the parent's revert undid it).
    REVERTED = "reverted"
    #: Its revert failed too: something is left for an operator.
    FAILED = "failed"


@dataclasses.dataclass(frozen=True)
class ParentLink:
    """Stored with a child run: whose item it is."""

    #: The parent's run id.
    run_id: str
    #: The path of the parent's task that started it.
    task: str
    #: The item's index in that task's list.
    index: int

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ParentLink | None:
        """Read the stored form (None for a run that is nobody's child)."""
        if not data:
            return None
        return cls(str(data["run_id"]), str(data["task"]), int(data["index"]))


@dataclasses.dataclass(frozen=True)
class Batch:
    """The child runs one task of one parent run starts."""

    #: The parent's run id.
    parent: str
    #: The task's path in the parent (``move``, ``region[1].move``).
    task: str
    #: How many items, hence children.
    count: int
    #: Lanes: at most this many children run at once.
    concurrency: int
    #: What a failed child means for the others.
    on_item_failure: OnItemFailure

    def __post_init__(self) -> None:
        if self.count < 0 or self.concurrency < 1:
            raise ValueError(f"a batch needs count >= 0 and concurrency >= 1, not {self.count}/{self.concurrency}")

    @property
    def batch_id(self) -> str:
        """A stable id of the batch (the ZooKeeper node of its facts is named by it)."""
        return str(uuid.uuid5(_NAMESPACE, f"{self.parent}/{self.task}"))

    def child_id(self, index: int) -> str:
        """The run id of item ``index``'s child: the same on every try, process and conductor."""
        return str(uuid.uuid5(uuid.UUID(self.batch_id), str(index)))

    def link(self, index: int) -> ParentLink:
        """What child ``index`` stores about its parent."""
        return ParentLink(self.parent, self.task, index)

    def heads(self) -> range:
        """The first child of every lane."""
        return range(min(self.concurrency, self.count))

    def lane(self, head: int) -> range:
        """The children of the lane starting at ``head``, in the order they run."""
        return range(head, self.count, self.concurrency)

    def successor(self, index: int) -> int | None:
        """The child that runs after ``index`` in its lane, if any."""
        following = index + self.concurrency
        return following if following < self.count else None

    def stops_on(self, ended: Mapping[int, ChildEnd]) -> bool:
        """True when no further child may start: ``revert_all`` and a child failed."""
        return self.on_item_failure is OnItemFailure.REVERT_ALL and any(
            end is not ChildEnd.SUCCEEDED for end in ended.values())

    def over(self, seen: Progress) -> bool:
        """True when the parent may gather: every child ended, or the batch stopped and none still runs."""
        if len(seen.ended) >= self.count:
            return True
        return self.stops_on(seen.ended) and not seen.running

    def to_json(self) -> dict[str, Any]:
        """The form kept in the parent's durable memory."""
        return {"count": self.count, "concurrency": self.concurrency, "on_item_failure": self.on_item_failure.value}

    @classmethod
    def from_json(cls, parent: str, task: str, data: Mapping[str, Any]) -> Batch:
        """Read what :meth:`to_json` kept."""
        return cls(parent, task, int(data["count"]), int(data["concurrency"]), OnItemFailure(data["on_item_failure"]))


@dataclasses.dataclass(frozen=True)
class Progress:
    """Where a batch's children stand."""

    #: Children that ended, by index.
    ended: Mapping[int, ChildEnd]
    #: Children started and not ended (running, waiting, paused for an operator).
    running: frozenset[int]


class ChildRuns(Protocol):
    """What a batch's atom asks of whoever runs child runs (in this process, or on the jobboard)."""

    def create(self, batch: Batch, definition: FlowDefinition, inputs: list[Mapping[str, Any]]) -> None:
        """Store every child run not stored yet (never touching one that exists)."""

    def progress(self, batch: Batch) -> Progress:
        """Which children ended and which still run."""

    def launch(self, batch: Batch, seen: Progress) -> None:
        """Start what may start now (lane heads, lanes' next children)."""

    def result(self, batch: Batch, index: int, item: Any) -> dict[str, Any]:
        """One entry of the task's result: item, run_id, state, outputs, error."""

    def revert(self, batch: Batch) -> None:
        """Undo every child that has not been reverted; return once all are."""
