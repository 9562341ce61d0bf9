"""How the CLI shows child runs under their parent (``flows show``, ``jobs show``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opsflow.engines.records import RunRecord, TaskState

__all__ = ["CHILD_COLUMNS", "child_rows", "done"]

#: Columns of the child-run listing.
CHILD_COLUMNS = ["child run", "task", "item", "state", "tasks done"]


def done(record: RunRecord) -> str:
    """``finished/all`` tasks of a run (``pruned`` once retention dropped its tasks)."""
    if record.pruned_at is not None:
        return "pruned"
    return f"{sum(t.state is TaskState.SUCCESS for t in record.steps)}/{len(record.steps)}"


def child_rows(children: Sequence[RunRecord]) -> list[list[Any]]:
    """One row per child run, in :data:`CHILD_COLUMNS` order."""
    return [[child.run_id, child.parent.task if child.parent else None, child.parent.index if child.parent else None,
             child.state.value, done(child)] for child in children]
