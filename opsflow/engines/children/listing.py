"""Which child runs a run has: read from the batches its tasks stored, not by scanning every run."""

from __future__ import annotations

from taskflow.persistence import base as tf_base

from opsflow.engines import records
from opsflow.engines.children.batch import BATCH_KEY, Batch
from opsflow.engines.records import RunRecord
from opsflow.engines.run_meta import RunMeta
from opsflow.errors import FlowNotFound

__all__ = ["batches_of", "children_of"]


def batches_of(run_id: str, meta: RunMeta) -> list[Batch]:
    """Every batch the run's tasks started (or are starting), in task order of first storing."""
    return [Batch.from_json(run_id, path, slot[BATCH_KEY]) for path, slot in meta.memory.items() if BATCH_KEY in slot]


def children_of(backend: tf_base.Backend, where: str, run_id: str) -> list[RunRecord]:
    """The stored child runs of ``run_id``, batch by batch in item order (children not stored yet left out)."""
    detail = records.load_detail(backend, run_id, where)[1]
    found = []
    for batch in batches_of(run_id, RunMeta.of(detail.meta)):
        for index in range(batch.count):
            try:
                found.append(records.record_of(records.load_detail(backend, batch.child_id(index), where)[1]))
            except FlowNotFound:
                break  # children are stored in item order: none after this one either
    return found
