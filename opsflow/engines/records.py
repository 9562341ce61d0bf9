"""Read stored runs back: what ``opsflow flows list|show`` prints and what resume rebuilds from.

A run is one TaskFlow logbook holding one flow detail, both with the run's id. The flow detail's
metadata (:class:`~opsflow.engines.run_meta.RunMeta`) keeps everything needed to rebuild the run
anywhere: the definition texts (so no local copy of the user's YAML is needed), the inputs, and the
durable memory of waits and signals.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import enum
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from taskflow import exceptions as tf_exc, states as tf_states
from taskflow.persistence import base as tf_base, models
from taskflow.types import failure as tf_failure

from opsflow.engines.children.batch import ParentLink
from opsflow.engines.run_meta import RunMeta, identity
from opsflow.errors import DamagedRecord, FlowNotFound, OpsflowError, StorageUnavailable, describe_wait
from opsflow.flows import loader, resolver
from opsflow.flows.model import FlowDefinition

__all__ = ["INTERNAL_MARK", "RunRecord", "RunState", "TaskRecord", "TaskState", "connection", "damaged", "definition_of",
           "is_internal", "load_detail", "load_many", "record_of", "run_ids"]

#: What the definition compiler puts in the names of its bookkeeping atoms (``copy#retry``,
#: ``migrate#inputs``); task paths never contain it (task names cannot).
INTERNAL_MARK = "#"


def is_internal(path: str) -> bool:
    """True for a bookkeeping atom of the compiler, False for a task of the definition."""
    return INTERNAL_MARK in path


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
    #: A row or node of the run cannot be read back (:class:`~opsflow.errors.DamagedRecord`).
    DAMAGED = "damaged"


class TaskState(enum.StrEnum):
    """A task's (an atom's) state: TaskFlow's own names, so a member equals the stored string."""

    PENDING = tf_states.PENDING
    RUNNING = tf_states.RUNNING
    SUCCESS = tf_states.SUCCESS
    FAILURE = tf_states.FAILURE
    REVERTING = tf_states.REVERTING
    REVERTED = tf_states.REVERTED
    REVERT_FAILURE = tf_states.REVERT_FAILURE
    RETRYING = tf_states.RETRYING
    IGNORE = tf_states.IGNORE


@dataclasses.dataclass(frozen=True)
class TaskRecord:
    """One atom of a stored run."""

    #: The task's path (``copy``, ``migrate[2].copy``) or a bookkeeping atom (``...#retry``).
    path: str
    #: Its state (TaskFlow's): PENDING, RUNNING, SUCCESS, FAILURE, REVERTING, REVERTED, ...
    state: TaskState
    #: The result, when there is one.
    result: Any
    #: The error text of its last failure, if any.
    error: str | None
    #: Wall-clock start and end of its last execution, when recorded.
    started: float | None
    finished: float | None

    @property
    def internal(self) -> bool:
        """True for a bookkeeping atom (a retry controller, a sub-flow's inputs), not a task."""
        return is_internal(self.path)

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
    #: The same waits as an operator reads them: ``waiting until <ISO time> or signal 'go'``.
    waiting: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: When retention pruned the run's per-task detail (:mod:`opsflow.engines.retention`); then
    #: ``tasks`` and ``inputs`` are empty and only the summary is left.
    pruned_at: float | None = None
    #: When it ended, for a pruned run (a stored one's is its tasks' latest finish).
    ended_at: float | None = None
    #: For a damaged run (state DAMAGED): which row or node cannot be read, and why.
    damage: str | None = None

    @property
    def steps(self) -> tuple[TaskRecord, ...]:
        """The definition's tasks alone, without the compiler's bookkeeping atoms."""
        return tuple(task for task in self.tasks if not task.internal)


def definition_of(detail: models.FlowDetail) -> tuple[FlowDefinition, dict[str, Any]]:
    """Rebuild a run's definition and inputs from its stored metadata alone."""
    meta = RunMeta.of(detail.meta)
    texts = tuple((key, item.source, item.text) for key, item in meta.subflows.items())
    links = tuple((parent, tuple(refs.items())) for parent, refs in meta.links.items()) if meta.links else None
    definition = _load(meta.definition.source, meta.definition.text, texts, links)
    # The operator may have overridden on_failure when starting the run (opsflow run --on-failure).
    return dataclasses.replace(definition, on_failure=meta.on_failure), dict(meta.inputs)


@functools.lru_cache(maxsize=64)
def _load(source: str, text: str, texts: tuple[tuple[str, str, str], ...],
          links: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] | None) -> FlowDefinition:
    """Load a stored definition once per content: a batch's thousand children share one parse."""
    stored = {key: (sub_source, sub_text) for key, sub_source, sub_text in texts}
    if links is not None:
        stored[identity(source, text)] = (source, text)
    by_parent = {parent: dict(refs) for parent, refs in links} if links is not None else None
    return loader.load_text(text, source, resolver.StoredResolver(stored, by_parent))


@contextlib.contextmanager
def connection(backend: tf_base.Backend) -> Iterator[tf_base.Connection]:
    """A backend connection, closed afterwards (TaskFlow's are not context managers)."""
    conn = backend.get_connection()
    try:
        yield conn
    finally:
        conn.close()


def load_detail(backend: tf_base.Backend, run_id: str, where: str) -> tuple[models.LogBook, models.FlowDetail]:
    """The logbook and flow detail of ``run_id``; FlowNotFound when there is none, DamagedRecord when unreadable."""
    with connection(backend) as conn:
        try:
            book = conn.get_logbook(run_id)
        except tf_exc.NotFound:
            raise FlowNotFound(run_id, where) from None
        except (OpsflowError, tf_exc.StorageFailure):
            raise
        except Exception as exc:  # whatever a corrupted row or node makes the decoders raise
            raise _damaged(backend, run_id, where, exc) from exc
    return book, _own_detail(book, run_id, where)


#: Runs loaded per request batch by :func:`load_many` (four ZooKeeper requests in flight per run).
LOAD_BATCH = 200


def load_many(backend: tf_base.Backend, run_ids: Sequence[str],
              where: str) -> dict[str, models.FlowDetail | FlowNotFound | DamagedRecord]:
    """Each run's flow detail as :func:`load_detail` gives it, or the FlowNotFound or DamagedRecord it raises.

    A backend that loads many logbooks at once (ZooKeeper: two round trips for a batch) is asked
    batch by batch; a batch it cannot decode whole (a damaged run, one deleted meanwhile) is loaded
    run by run, so each run gets its own answer. Unreachable storage raises.
    """
    found: dict[str, models.FlowDetail | FlowNotFound | DamagedRecord] = {}
    for start in range(0, len(run_ids), LOAD_BATCH):
        batch = run_ids[start:start + LOAD_BATCH]
        with connection(backend) as conn:
            bulk = getattr(conn, "get_logbooks_of", None)
            try:
                books = bulk(batch) if bulk is not None else None
            except StorageUnavailable:
                raise
            except Exception:  # whatever one bad run makes it raise: each run on its own below
                books = None
        for index, run_id in enumerate(batch):
            try:
                if books is None:
                    found[run_id] = load_detail(backend, run_id, where)[1]
                else:
                    found[run_id] = _own_detail(books[index], run_id, where)
            except (FlowNotFound, DamagedRecord) as exc:
                found[run_id] = exc
    return found


def _own_detail(book: models.LogBook | Exception, run_id: str, where: str) -> models.FlowDetail:
    if isinstance(book, Exception):
        raise FlowNotFound(run_id, where)
    detail = book.find(run_id)
    if detail is None or not RunMeta.present(detail.meta):
        raise FlowNotFound(run_id, where)
    try:
        RunMeta.of(detail.meta)
    except Exception as exc:
        raise DamagedRecord(run_id, f"the opsflow metadata of flow detail {run_id} in {where}",
                            f"{type(exc).__name__}: {exc}") from exc
    return detail


def _damaged(backend: tf_base.Backend, run_id: str, where: str, exc: Exception) -> DamagedRecord:
    """Name the row or node of ``run_id`` that does not decode (the backend knows its layout)."""
    locate = getattr(backend, "locate_damage", None)
    located = locate(run_id) if locate is not None else None
    spot, reason = located or (f"a record of run {run_id} in {where}", f"{type(exc).__name__}: {exc}")
    return DamagedRecord(run_id, spot, reason)


def run_ids(backend: tf_base.Backend) -> list[str]:
    """Ids of every stored logbook, read without decoding any (so one damaged record cannot hide the rest)."""
    listed = getattr(backend, "run_ids", None)
    if listed is not None:
        return list(listed())
    with connection(backend) as conn:
        return [book.uuid for book in conn.get_logbooks(lazy=True)]


def damaged(error: DamagedRecord) -> RunRecord:
    """A listing's row for a run that cannot be read: its id, state DAMAGED, and what is wrong."""
    return RunRecord(run_id=error.run_id, name="?", state=RunState.DAMAGED, inputs={}, created=0.0, tasks=(),
                     waits={}, damage=f"{error.where} cannot be read ({error.reason})")


def record_of(detail: models.FlowDetail) -> RunRecord:
    """An operator's view of a stored flow detail."""
    meta = RunMeta.of(detail.meta)
    # TaskFlow's injector atom holds the stored inputs; it is no task of the operator's.
    tasks = tuple(_task_record(atom) for atom in detail if not atom.name.startswith("_TaskFlow"))
    pending = meta.waits({task.path for task in tasks if task.state == tf_states.SUCCESS})
    waits = {path: due for path, (due, _signal) in pending.items()}
    return RunRecord(
        run_id=detail.uuid,
        name=detail.name,
        state=_state(detail.state, meta, waits),
        inputs=meta.inputs,
        created=meta.created,
        tasks=tasks,
        waits=waits,
        parent=meta.parent,
        waiting={path: describe_wait(due, signal) for path, (due, signal) in pending.items()},
    )


def _state(flow_state: str | None, meta: RunMeta, waits: Mapping[str, Any]) -> RunState:
    if flow_state in (None, tf_states.PENDING):
        return RunState.PENDING
    if flow_state == tf_states.SUCCESS:
        return RunState.SUCCEEDED
    if flow_state == tf_states.REVERTED:
        return RunState.REVERTED
    if flow_state == tf_states.FAILURE:
        return RunState.FAILED
    if flow_state == tf_states.SUSPENDED:
        if meta.paused_at is not None:
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
        state=TaskState(atom.state or tf_states.PENDING),
        result=result,
        error=error,
        started=timing.get("started"),
        finished=timing.get("finished"),
    )
