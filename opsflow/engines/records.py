"""Read stored runs back: what ``opsflow flows list|show`` prints and what resume rebuilds from.

A run is one TaskFlow logbook holding one flow detail, both with the run's id. The flow detail's
metadata keeps everything needed to rebuild the run anywhere: the definition texts (so no local copy
of the user's YAML is needed), the inputs, and the durable memory of waits and signals.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
from collections.abc import Iterator, Mapping
from typing import Any

from taskflow import exceptions as tf_exc, states as tf_states
from taskflow.persistence import base as tf_base, models
from taskflow.types import failure as tf_failure

from opsflow.engines.children.batch import ParentLink
from opsflow.errors import FlowNotFound
from opsflow.flows import loader, resolver
from opsflow.flows.model import FlowDefinition, OnFailure

__all__ = ["META_KEY", "RunRecord", "RunState", "TaskRecord", "connection", "definition_of", "load_detail", "record_of",
           "stored_meta"]

#: Key of opsflow's own data inside a flow detail's metadata.
META_KEY = "opsflow"


class RunState(enum.Enum):
    """A run's state as an operator sees it."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    REVERTED = "reverted"
    PAUSED = "paused"
    WAITING = "waiting"
    SUSPENDED = "suspended"
    FAILED = "failed"


@dataclasses.dataclass(frozen=True)
class TaskRecord:
    """One atom of a stored run."""

    #: The task's path (``copy``, ``migrate[2].copy``) or a bookkeeping atom (``...#retry``).
    path: str
    #: TaskFlow state: PENDING, RUNNING, SUCCESS, FAILURE, REVERTING, REVERTED, ...
    state: str
    #: The result, when there is one.
    result: Any
    #: The error text of its last failure, if any.
    error: str | None
    #: Wall-clock start and end of its last execution, when recorded.
    started: float | None
    finished: float | None

    @property
    def duration(self) -> float | None:
        """Seconds the last execution took."""
        if self.started is None or self.finished is None:
            return None
        return self.finished - self.started


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """A stored run."""

    #: The run's id.
    run_id: str
    #: The definition's name.
    name: str
    #: The operator-facing state.
    state: RunState
    #: Inputs it was started with.
    inputs: Mapping[str, Any]
    #: When it was created (epoch seconds).
    created: float
    #: Its atoms (tasks and bookkeeping atoms), in stored order.
    tasks: tuple[TaskRecord, ...]
    #: Pending waits: task path -> due time (None: signal only, or child runs).
    waits: Mapping[str, float | None]
    #: For a child run: its parent run, task and item.
    parent: ParentLink | None = None


def stored_meta(definition: FlowDefinition, inputs: Mapping[str, Any], created: float,
                parent: ParentLink | None = None) -> dict[str, Any]:
    """What a new run's flow detail metadata holds."""
    subflows: dict[str, dict[str, str]] = {}

    def collect(defn: FlowDefinition) -> None:
        for ref, sub in defn.subflows.items():
            subflows[ref] = {"source": sub.source, "text": sub.text}
            collect(sub)

    collect(definition)
    return {
        META_KEY: {
            "definition": {"source": definition.source, "text": definition.text},
            "subflows": subflows,
            "inputs": dict(inputs),
            "on_failure": definition.on_failure.value,
            "created": created,
            **({"parent": parent.to_json()} if parent is not None else {}),
        }
    }


def definition_of(detail: models.FlowDetail) -> tuple[FlowDefinition, dict[str, Any]]:
    """Rebuild a run's definition and inputs from its stored metadata alone."""
    meta = detail.meta[META_KEY]
    texts = {ref: (item["source"], item["text"]) for ref, item in meta["subflows"].items()}
    root = meta["definition"]
    definition = loader.load_text(root["text"], root["source"], resolver.StoredResolver(texts))
    # The operator may have overridden on_failure when starting the run (opsflow run --on-failure).
    definition = dataclasses.replace(definition, on_failure=OnFailure(meta.get("on_failure", "revert")))
    return definition, dict(meta["inputs"])


@contextlib.contextmanager
def connection(backend: tf_base.Backend) -> Iterator[tf_base.Connection]:
    """A backend connection, closed afterwards (TaskFlow's are not context managers)."""
    conn = backend.get_connection()
    try:
        yield conn
    finally:
        conn.close()


def load_detail(backend: tf_base.Backend, run_id: str, where: str) -> tuple[models.LogBook, models.FlowDetail]:
    """The logbook and flow detail of ``run_id``; FlowNotFound when there is none."""
    with connection(backend) as conn:
        try:
            book = conn.get_logbook(run_id)
        except tf_exc.NotFound:
            raise FlowNotFound(run_id, where) from None
    detail = book.find(run_id)
    if detail is None or META_KEY not in (detail.meta or {}):
        raise FlowNotFound(run_id, where)
    return book, detail


def record_of(detail: models.FlowDetail) -> RunRecord:
    """An operator's view of a stored flow detail."""
    meta = detail.meta or {}
    ours = meta.get(META_KEY, {})
    # TaskFlow's injector atom holds the stored inputs; it is no task of the operator's.
    tasks = tuple(_task_record(atom) for atom in detail if not atom.name.startswith("_TaskFlow"))
    done = {task.path for task in tasks if task.state == tf_states.SUCCESS}
    waits = {
        path: memory.get("due")
        for path, memory in (meta.get("memory") or {}).items()
        if "due" in memory and path not in done
    }
    return RunRecord(
        run_id=detail.uuid,
        name=detail.name,
        state=_state(detail.state, meta, waits),
        inputs=ours.get("inputs", {}),
        created=ours.get("created", 0.0),
        tasks=tasks,
        waits=waits,
        parent=ParentLink.from_json(ours.get("parent")),
    )


def _state(flow_state: str | None, meta: Mapping[str, Any], waits: Mapping[str, Any]) -> RunState:
    if flow_state in (None, tf_states.PENDING):
        return RunState.PENDING
    if flow_state == tf_states.SUCCESS:
        return RunState.SUCCEEDED
    if flow_state == tf_states.REVERTED:
        return RunState.REVERTED
    if flow_state == tf_states.FAILURE:
        return RunState.FAILED
    if flow_state == tf_states.SUSPENDED:
        if meta.get("paused"):
            return RunState.PAUSED
        return RunState.WAITING if waits else RunState.SUSPENDED
    return RunState.RUNNING


def _task_record(atom: models.AtomDetail) -> TaskRecord:
    error = None
    if isinstance(atom.failure, tf_failure.Failure):
        error = atom.failure.exception_str
    result = None if isinstance(atom.results, tf_failure.Failure) else atom.results
    if isinstance(atom, models.RetryDetail):
        result = len(atom.results)
    timing = (atom.meta or {}).get("timing", {})
    return TaskRecord(
        path=atom.name,
        state=atom.state or tf_states.PENDING,
        result=result,
        error=error,
        started=timing.get("started"),
        finished=timing.get("finished"),
    )
