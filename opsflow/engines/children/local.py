"""Child runs on the embedded engine: stored beside their parent, driven by the parent's own Runner.

The parent's atom stores the children and suspends the parent (:mod:`.atom`); the Runner holding
the parent then drives the batch -- one thread per lane, each child a run of its own with its
state saved after every task -- and tries the parent again once the lanes are done. Nothing of
this lives only in memory: after a kill -9, ``opsflow resume PARENT`` finds the same children by
their ids, skips those that ended, resumes those that were running (never starting them over) and
starts the rest.
"""

from __future__ import annotations

import enum
import logging
import threading
from concurrent import futures
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from taskflow import exceptions as tf_exc, states as tf_states
from taskflow.persistence import base as tf_base

from opsflow.engines import records
from opsflow.engines.atoms import FailurePoint
from opsflow.engines.children.batch import Batch, ChildEnd, Progress
from opsflow.engines.children.listing import batches_of
from opsflow.engines.records import RunState
from opsflow.engines.run_meta import RunMeta
from opsflow.errors import ExpressionError
from opsflow.flows import expressions
from opsflow.flows.model import FlowDefinition

if TYPE_CHECKING:
    from opsflow.engines.runner import Runner

__all__ = ["Driven", "LocalChildren", "child_failure_points", "outcome"]

LOG = logging.getLogger(__name__)

#: TaskFlow flow states of a child that has ended, and what the parent calls them.
_ENDS = {tf_states.SUCCESS: ChildEnd.SUCCEEDED, tf_states.REVERTED: ChildEnd.REVERTED,
         tf_states.FAILURE: ChildEnd.FAILED}
#: Flow states of a child stored but never started.
_NOT_STARTED = (None, tf_states.PENDING)


class Driven(enum.Enum):
    """What driving a waiting run's batches achieved."""

    #: The run waits on no batch (only on time or signals).
    NOTHING = "nothing"
    #: Every lane ran to its end: try the parent again.
    DONE = "done"
    #: A child paused or waits: the parent keeps waiting (an operator acts on the child).
    BLOCKED = "blocked"


def child_failure_points(points: tuple[FailurePoint, ...], address: str) -> tuple[FailurePoint, ...]:
    """The failure points that reach into the child run at ``address`` (``move[3]``), relative to it.

    ``--inject-failure 'move[*].copy'`` names task ``copy`` of every child of task ``move``.
    """
    depth = len(address.split("."))
    found = []
    for point in points:
        segments = point.pattern.split(".")
        if len(segments) > depth and FailurePoint(".".join(segments[:depth]), point.when).matches(address, point.when):
            found.append(FailurePoint(".".join(segments[depth:]), point.when))
    return tuple(found)


def outcome(detail: Any, item: Any, run_id: str) -> dict[str, Any]:
    """A child's entry in its parent's result, from its stored flow detail."""
    record = records.record_of(detail)
    end = _ENDS.get(detail.state)
    state = end.value if end is not None else record.state.value
    errors = [task.error for task in record.steps if task.error]
    outputs: dict[str, Any] = {}
    if end is ChildEnd.SUCCEEDED:
        definition, _inputs = records.definition_of(detail)
        namespace = {"inputs": dict(record.inputs), "tasks": {task.path: task.result for task in record.tasks}}
        try:
            outputs = expressions.evaluate_value(dict(definition.outputs), namespace)
        except ExpressionError as exc:
            LOG.warning("child run %s: its outputs cannot be evaluated: %s", run_id, exc)
    return {"item": item, "run_id": run_id, "state": state, "outputs": outputs,
            "error": None if end is ChildEnd.SUCCEEDED else (errors[0] if errors else None)}


class LocalChildren:
    """Stores child runs in the parent's backend and drives them with the parent's Runner."""

    def __init__(self, runner: Runner, backend: tf_base.Backend) -> None:
        self._runner = runner
        self._backend = backend

    # -- what the atom asks -------------------------------------------------------------------

    def create(self, batch: Batch, definition: FlowDefinition, inputs: list[Mapping[str, Any]]) -> None:
        """Store the children not stored yet (they are stored in item order, so those form a suffix)."""
        low, high = 0, batch.count
        while low < high:  # the first index not stored, by bisection: a handful of reads, not one per child
            middle = (low + high) // 2
            if self._flow_state(batch.child_id(middle)) is not _MISSING:
                low = middle + 1
            else:
                high = middle
        for index in range(low, batch.count):
            self._runner.create(definition, inputs[index], run_id=batch.child_id(index), parent=batch.link(index))
        if low < batch.count:
            LOG.info("%s: stored child runs %d..%d of run %s", batch.task, low, batch.count - 1, batch.parent)

    def progress(self, batch: Batch) -> Progress:
        """Read every child's flow state (no atoms)."""
        ended: dict[int, ChildEnd] = {}
        running = set()
        for index, state in enumerate(self._flow_states(batch)):
            if state in _ENDS:
                ended[index] = _ENDS[state]
            elif state not in _NOT_STARTED:
                running.add(index)
        return Progress(ended, frozenset(running))

    def launch(self, batch: Batch, seen: Progress) -> None:
        """Nothing to do now: the Runner drives the lanes once the parent is suspended."""

    def result(self, batch: Batch, index: int, item: Any) -> dict[str, Any]:
        """The child's outcome, read from its stored run."""
        run_id = batch.child_id(index)
        return outcome(records.load_detail(self._backend, run_id, self._runner.state_url)[1], item, run_id)

    def revert(self, batch: Batch) -> None:
        """Revert, lane by lane, every stored child that is not reverted yet (succeeded ones included)."""
        def lane(head: int) -> None:
            for index in batch.lane(head):
                run_id = batch.child_id(index)
                if self._flow_state(run_id) in (tf_states.REVERTED, _MISSING):
                    continue
                record = self._runner.revert(run_id, succeeded=True)
                LOG.info("%s: child run %s %s", batch.task, run_id, record.state.value)

        self._lanes(batch, lane)

    # -- what the Runner asks -----------------------------------------------------------------

    def drive(self, run_id: str, failure_points: tuple[FailurePoint, ...], hold_waits: bool) -> Driven:
        """Run the lanes of every batch the (suspended) run ``run_id`` waits on."""
        batches = list(self._waiting_batches(run_id))
        if not batches:
            return Driven.NOTHING
        driven = [self._drive(batch, failure_points, hold_waits) for batch in batches]
        return Driven.DONE if all(driven) else Driven.BLOCKED

    def _drive(self, batch: Batch, failure_points: tuple[FailurePoint, ...], hold_waits: bool) -> bool:
        stop = threading.Event()

        def lane(head: int) -> bool:
            for index in batch.lane(head):
                run_id = batch.child_id(index)
                state = self._flow_state(run_id)
                if state not in _ENDS:
                    if stop.is_set():
                        return True
                    if state == tf_states.SUSPENDED and self._runner.record(run_id).state is RunState.PAUSED:
                        return False  # an operator resumes or reverts it
                    points = child_failure_points(failure_points, f"{batch.task}[{index}]")
                    record = self._runner.resume(run_id, failure_points=points, hold_waits=hold_waits)
                    state = self._flow_state(run_id)
                    if state not in _ENDS:
                        LOG.info("%s: child run %s is %s", batch.task, run_id, record.state.value)
                        return False
                if batch.stops_on({index: _ENDS[state]}):
                    stop.set()
            return True

        return all(self._lanes(batch, lane))

    def _waiting_batches(self, run_id: str) -> Iterator[Batch]:
        detail = records.load_detail(self._backend, run_id, self._runner.state_url)[1]
        waits = records.record_of(detail).waits
        return (batch for batch in batches_of(run_id, RunMeta.of(detail.meta)) if batch.task in waits)

    def _lanes(self, batch: Batch, lane: Any) -> list[Any]:
        heads = batch.heads()
        if len(heads) <= 1:
            return [lane(head) for head in heads]
        with futures.ThreadPoolExecutor(len(heads), thread_name_prefix="opsflow-lane") as pool:
            return list(pool.map(lane, heads))

    # -- stored states ------------------------------------------------------------------------

    def _flow_states(self, batch: Batch) -> list[Any]:
        return [self._flow_state(batch.child_id(index)) for index in range(batch.count)]

    def _flow_state(self, run_id: str) -> Any:
        """The child's TaskFlow flow state (None: never run), or _MISSING when it is not stored."""
        try:
            with records.connection(self._backend) as conn:
                return conn.get_flow_details(run_id, lazy=True).state
        except tf_exc.NotFound:
            return _MISSING

_MISSING: Any = object()
