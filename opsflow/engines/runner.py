"""Run, resume and revert flows in this process, with their state in a persistence backend.

The same code path serves a fresh run, ``opsflow resume`` after a crash (kill -9 included) and
``opsflow revert``: each rebuilds the TaskFlow graph from the definition stored with the run and
lets TaskFlow's engine continue from the stored atom states, so completed tasks never run again.
Reverting a stopped run is a resume in which every task still to run fails before acting: the
ordinary failure path then undoes the completed tasks in reverse order.

Each of them first takes the run's lease (:mod:`opsflow.engines.lease`): a second process is
refused with :class:`~opsflow.errors.RunOwned`, and one whose lease was taken over can neither
start a task nor write the run's state (:class:`~opsflow.errors.LeaseLost`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import uuid
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

import futurist
import taskflow.engines
from taskflow import exceptions as tf_exc, states as tf_states, storage as tf_storage
from taskflow.engines.action_engine import compiler as tf_compiler
from taskflow.persistence import base as tf_base, models
from taskflow.types import failure as tf_failure

from opsflow import registry
from opsflow.engines import definition_compiler, persistence, records, retention, signals
from opsflow.engines.atoms import FailurePoint, RunOptions
from opsflow.engines.children import ChildRuns, ParentLink
from opsflow.engines.children import listing
from opsflow.engines.children.board import BoardChildren
from opsflow.engines.children.local import Driven, LocalChildren
from opsflow.engines.jobboard import JobBoard
from opsflow.engines.lease import Holder, Lease, LeaseRecord
from opsflow.engines.records import RunRecord, RunState
from opsflow.engines.run_meta import RunMeta
from opsflow.errors import (BackendUnavailable, DamagedRecord, FlowNotFound, InvalidInput, InvalidState, LeaseLost,
                            OpsflowError, StorageUnavailable, WaitPending)
from opsflow.flows import inputs as flow_inputs
from opsflow.flows.model import FlowDefinition, OnFailure
from opsflow.tasks.base import Clock, SystemClock

__all__ = ["REVERT_EVERYTHING", "Observer", "Runner"]

LOG = logging.getLogger(__name__)

#: Flow states an engine may reach by way of a task failure (anything else is a fault of our own).
_ENDED_BY_FAILURE = frozenset({tf_states.REVERTED, tf_states.FAILURE, tf_states.SUSPENDED})

#: Atom states that show a flow-wide revert under way.
_UNDOING = frozenset({tf_states.REVERTED, tf_states.REVERTING, tf_states.REVERT_FAILURE})

#: Run states nothing can change any more.
_ENDED = frozenset({RunState.SUCCEEDED, RunState.REVERTED, RunState.FAILED})

#: Failure injected into every task still to run, to turn a resume into a revert.
REVERT_EVERYTHING = (FailurePoint("*", "before"),)


def _signal_names(definition: FlowDefinition) -> set[str] | None:
    """Signal names the run's suspending tasks take (sub-flows included); None if one is computed."""
    names: set[str] = set()
    for spec in definition.tasks:
        if spec.flow is not None:
            inner = _signal_names(definition.subflows[spec.flow])
            if inner is None:
                return None
            names |= inner
        elif getattr(registry.fetch(registry.ACTIONS, spec.action or ""), "suspends", False) and "signal" in spec.args:
            value = spec.args["signal"]
            if not isinstance(value, str):
                return None  # an expression: known only while the run runs
            names.add(value)
    return names


def _store_failed(exc: BaseException) -> bool:
    """True when the store failing (unreachable, or the lease gone) is what stopped an engine.

    TaskFlow hands such errors back as Failure objects inside a WrappedFailure, or as the cause.
    """
    kinds = (tf_exc.StorageFailure, BackendUnavailable, LeaseLost)
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kinds):
            return True
        if isinstance(seen, tf_exc.WrappedFailure) and any(failure.check(*kinds) for failure in seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _still_owner(lease: Lease, bound: float, task: str) -> None:
    """Let a task act only while its run's lease still holds, asked in the worker just before it acts.

    The start gate asked when the task was scheduled; between that and acting the worker waits for
    the task's RUNNING mark to be stored, and a process SIGSTOPped there wakes past its lease with
    the task still to do. Acting then would be a second owner's work: another conductor may have
    resumed the run meanwhile. A lost lease fails the task without acting (its failure cannot be
    stored either, so the new owner runs it); a store away for longer than ``bound`` stops the
    engine as a failed save does, so the run suspends instead of reverting for an outage.
    """
    if lease.wait_startable(bound):
        return
    if lease.lost:
        raise LeaseLost(lease.run_id, f"lost before {task} acted")
    raise tf_exc.StorageFailure(f"run {lease.run_id}: {task} not started: the lease could not be renewed "
                                f"within {bound:g} s")

def _check_failure_points(points: tuple[FailurePoint, ...], compiled: definition_compiler.CompiledFlow) -> None:
    for point in points:
        if any(point.matches(path, point.when) for path in compiled.actions) or _reaches_a_child(point, compiled):
            continue
        what = f"--inject-failure {point.pattern!r}"
        containers = [path for path in compiled.containers if point.matches(path, point.when)]
        if containers:
            inside = [path for path in compiled.actions if path.startswith(containers[0])][:1]
            example = f", e.g. {inside[0]!r}" if inside else ""
            raise InvalidInput(f"{what} names {containers[0]!r}, a fan-out or sub-flow, which runs no action "
                               f"itself; name a task inside it{example}")
        shown = ", ".join(compiled.actions[:8]) + (", ..." if len(compiled.actions) > 8 else "")
        raise InvalidInput(f"{what} matches no task of the flow; its tasks: {shown}")


def _reaches_a_child(point: FailurePoint, compiled: definition_compiler.CompiledFlow) -> bool:
    """True when the point names a task of the flow a child-runs task runs (``batch[*].step``).

    Which items exist is known only while the parent runs, so the check stops at the child's task name.
    """
    for path, child in compiled.batches:
        if not point.pattern.startswith(path + "["):
            continue
        _index, found, rest = point.pattern[len(path):].partition("].")
        if found and rest.split(".")[0].split("[")[0] in {task.name for task in child.tasks}:
            return True
    return False


def _complete_a_half_stored_injector(detail: models.FlowDetail) -> None:
    """Let a run whose first owner was lost while storing its inputs be loaded by the next.

    TaskFlow stores a run's inputs atom in two writes: created without results, then filled. An
    owner stopped or cut off between the two leaves it empty, and TaskFlow's storage then fails to
    load the run at all (``'NoneType' object has no attribute 'keys'``): the next conductor held
    the job as failed (CI's soak, a SIGSTOP just after a claim). The engine injects the inputs again
    from the run's metadata as it loads, so the atom needs only what its second write gives it
    besides the inputs: a mapping to hold them and the state SUCCESS.
    """
    for atom in detail:
        if atom.name == tf_storage.Storage.injector_name and atom.results is None:
            atom.results, atom.state = {}, tf_states.SUCCESS


class Observer(Protocol):
    """Told what a run does, for progress displays and audit logs."""

    def started(self, run_id: str, tasks: int) -> None:
        """An engine run begins; ``tasks`` counts the tasks (bookkeeping atoms excluded)."""

    def task(self, path: str, state: str) -> None:
        """A task (never a bookkeeping atom) changed to a TaskFlow state (RUNNING, SUCCESS, ...)."""


class Runner:
    """Runs flows on a parallel TaskFlow engine whose state lives in ``state_url``."""

    #: Seconds between checks for a signal while holding a waiting run.
    SIGNAL_POLL = 1.0

    def __init__(
        self,
        state_url: str,
        *,
        clock: Clock | None = None,
        max_workers: int = 8,
        observer: Observer | None = None,
        owner: str | None = None,
        outage_bound: float | None = None,
        create: bool = True,
    ) -> None:
        """``create``: make the SQLite state file if it does not exist (else StateNotFound when used)."""
        self.state_url = state_url
        #: Who takes the leases of the runs this runner drives (a conductor's name, or this process).
        self.holder = Holder.this_process(owner)
        #: How long the store may be unreachable before a run stops starting tasks for good (seconds;
        #: None: one lease lifetime).
        self.outage_bound = outage_bound
        self._backend: tf_base.Backend = persistence.fetch(state_url, create=create)
        if outage_bound is not None and hasattr(self._backend, "patience"):
            self._backend.patience = outage_bound  # a write waits out a shorter outage too
        self._clock = clock or SystemClock()
        self._executor = futurist.ThreadPoolExecutor(max_workers=max_workers)
        self._max_workers = max_workers
        self._observer = observer
        #: Engines running now (a conductor runs several runs at once), for :meth:`suspend`.
        self._engines: dict[Any, str] = {}
        self._engines_lock = threading.Lock()
        #: Set by :meth:`interrupt`: no task starts any more, and no wait is held.
        self._halt = threading.Event()
        #: Stores and starts the child runs of batches; a conductor puts them on its jobboard instead.
        self.children: ChildRuns = LocalChildren(self, self._backend)

    def close(self) -> None:
        """Release the worker threads and the backend."""
        self._executor.shutdown()
        self._backend.close()

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # -- operations ---------------------------------------------------------------------------

    def create(self, definition: FlowDefinition, given: Mapping[str, Any], run_id: str | None = None,
               parent: ParentLink | None = None) -> str:
        """Store a new run without running it (a child run: with its ``parent``); returns its id."""
        values = flow_inputs.validate(definition, given)
        run_id = run_id or str(uuid.uuid4())
        book = models.LogBook(definition.name, uuid=run_id)
        detail = models.FlowDetail(definition.name, uuid=run_id)
        detail.meta = RunMeta.new(definition, values, self._clock.now(), parent).to_meta()
        book.add(detail)
        with records.connection(self._backend) as conn:
            conn.save_logbook(book)
        return run_id

    def run(
        self,
        definition: FlowDefinition,
        given: Mapping[str, Any],
        *,
        failure_points: tuple[FailurePoint, ...] = (),
        hold_waits: bool = True,
    ) -> RunRecord:
        """Create a run and run it to its end (or to a pause, or a wait when not holding waits).

        Each failure point must name a task that runs an action: one naming a fan-out, a sub-flow
        or nothing would silently rehearse nothing, so it is refused before the run is created.
        """
        if failure_points:
            values = flow_inputs.validate(definition, given)
            _check_failure_points(failure_points, definition_compiler.compile_flow(definition, values, RunOptions("")))
        run_id = self.create(definition, given)
        return self.resume(run_id, failure_points=failure_points, hold_waits=hold_waits)

    def resume(
        self, run_id: str, *, failure_points: tuple[FailurePoint, ...] = (), hold_waits: bool = True,
        lease: Lease | None = None,
    ) -> RunRecord:
        """Continue a stored run from where it stopped; completed tasks are not run again.

        Takes the run's lease for the time (RunOwned if another live process has it), unless the
        caller holds it already (``lease``, from :meth:`leased`).
        """
        if lease is None:
            self.record(run_id)  # FlowNotFound before anything is taken
        with self.leased(run_id, lease) as lease:
            return self._resume(run_id, lease, failure_points, hold_waits)

    def _resume(self, run_id: str, lease: Lease | None, failure_points: tuple[FailurePoint, ...],
                hold_waits: bool) -> RunRecord:
        record, loaded = self._stored(run_id)
        if record.state in (RunState.SUCCEEDED, RunState.REVERTED):
            raise InvalidState(f"run {run_id} has {record.state.value}; there is nothing to resume")
        while True:
            # The first pass drives the run as just read under the lease: no second read.
            record = self._drive(run_id, failure_points, pause=None, lease=lease, loaded=loaded)
            loaded = None
            if record.state is not RunState.WAITING or not hold_waits or self._halt.is_set():
                return record
            local = self.children if isinstance(self.children, LocalChildren) else None
            driven = local.drive(run_id, failure_points, hold_waits) if local is not None else Driven.NOTHING
            if driven is Driven.BLOCKED:
                return record
            if driven is Driven.NOTHING:
                self._sleep_until_due(record)

    def revert(self, run_id: str, *, succeeded: bool = False, lease: Lease | None = None) -> RunRecord:
        """Undo every completed task of a stopped (paused, waiting, interrupted or failed) run.

        ``succeeded`` lets a run that ran to its end be undone too: a parent's revert undoing its
        children.
        """
        if lease is None:
            self.record(run_id)  # FlowNotFound before anything is taken
        with self.leased(run_id, lease) as lease:
            record, loaded = self._stored(run_id)
            if record.state is RunState.REVERTED or (record.state is RunState.SUCCEEDED and not succeeded):
                raise InvalidState(f"run {run_id} has {record.state.value}; only a stopped run can be reverted")
            return self._drive(run_id, REVERT_EVERYTHING, pause=False, undo=record.state is RunState.SUCCEEDED,
                               lease=lease, loaded=loaded)

    def signal(self, run_id: str, name: str) -> RunRecord:
        """Deliver a named signal (wakes a ``core.wait`` waiting for it at its next check).

        Refused (:class:`InvalidState`) for a run that has ended, and (:class:`InvalidInput`) for a
        name none of the run's waits takes: a typo would otherwise be stored and wake nothing.
        """
        try:
            book, detail = records.load_detail(self._backend, run_id, self.state_url)
        except FlowNotFound:
            pruned = retention.summaries(self._backend).get(run_id)
            if pruned is None:
                raise
            raise InvalidState(f"run {run_id} has {pruned.state.value} (and was pruned); a signal can no longer "
                               f"change it") from None
        record = records.record_of(detail)
        if record.state in _ENDED:
            raise InvalidState(f"run {run_id} has {record.state.value}; a signal can no longer change it")
        known = _signal_names(records.definition_of(detail)[0])
        if known is not None and name not in known:
            raise InvalidInput(f"run {run_id} waits for no signal {name!r}; its waits take: "
                               f"{', '.join(sorted(known)) or 'none'}")
        # A fact of its own, appended: no state save of the run's owner can write an older copy over it.
        signals.send(self._backend, run_id, name, self._clock.now())
        return records.record_of(detail)

    def suspend(self, run_id: str | None = None) -> None:
        """Ask every run in progress (or just ``run_id``) to stop once its tasks in flight finish.

        A conductor shutting down suspends all; one whose job an operator wants reverted, that job.
        Each suspended run ends SUSPENDED with nothing lost: a later resume (or revert) continues it.
        """
        with self._engines_lock:
            engines = [engine for engine, run in self._engines.items() if run_id in (None, run)]
        for engine in engines:
            try:
                engine.suspend()
            except Exception as exc:  # its lease is lost or the store is away: it stops at its next write
                LOG.info("run %s: suspension not recorded (%s)", self._engines.get(engine), exc)

    def interrupt(self) -> None:
        """Stop for good (Ctrl-C): start no more tasks, let those in flight finish and be recorded, suspend.

        Safe from any thread (not from a signal handler itself: it writes the runs' state).
        """
        self._halt.set()
        self.suspend()

    def running(self) -> list[str]:
        """Ids of the runs whose engines run now."""
        with self._engines_lock:
            return list(self._engines.values())

    def record(self, run_id: str) -> RunRecord:
        """The stored state of one run (only its summary, without tasks, once it is pruned)."""
        return self._stored(run_id)[0]

    def _stored(self, run_id: str) -> tuple[RunRecord, tuple[models.LogBook, models.FlowDetail] | None]:
        """The run's record, and its logbook and flow detail unless it was pruned (one read)."""
        try:
            loaded = records.load_detail(self._backend, run_id, self.state_url)
        except FlowNotFound:
            pruned = retention.summaries(self._backend).get(run_id)
            if pruned is None:
                raise
            return pruned, None
        return records.record_of(loaded[1]), loaded

    def prune(self, policy: retention.Policy, *, dry_run: bool = False,
              board: JobBoard | None = None) -> list[RunRecord]:
        """Drop the per-task detail of finished runs ``policy`` selects, keeping their summaries.

        With ``board`` (distributed mode) their job nodes and holds go too, and orphan ones.
        """
        return retention.prune(self._backend, self.state_url, self.runs(), policy, self._clock.now(),
                               dry_run=dry_run, board=board)

    def leases(self, run_ids: list[str] | None = None) -> dict[str, LeaseRecord]:
        """Stored leases of these runs (or all), by run id: who owns each, alive or lapsed."""
        read = getattr(self._backend, "read_leases", None)
        if read is None:
            return {}
        found: dict[str, LeaseRecord] = read(run_ids)
        return found

    def use_jobboard(self, board: JobBoard) -> BoardChildren:
        """Start child runs as jobs on ``board`` (a conductor's runner) instead of in this process."""
        children = BoardChildren(self, self._backend, board)
        self.children = children
        return children

    def children_of(self, run_id: str) -> list[RunRecord]:
        """The child runs the run's tasks started, batch by batch, in item order (none left once pruned)."""
        try:
            return listing.children_of(self._backend, self.state_url, run_id)
        except FlowNotFound:
            if run_id in retention.summaries(self._backend):
                return []
            raise

    def runs(self) -> list[RunRecord]:
        """Every stored run, newest first; a damaged one as a record in state DAMAGED saying which row."""
        found = []
        for detail in records.load_many(self._backend, records.run_ids(self._backend), self.state_url).values():
            if isinstance(detail, DamagedRecord):
                LOG.info("%s", detail)
                found.append(records.damaged(detail))
            elif not isinstance(detail, FlowNotFound):  # not an opsflow run, or deleted meanwhile
                found.append(records.record_of(detail))
        stored = {record.run_id for record in found}
        found += [record for run_id, record in retention.summaries(self._backend).items() if run_id not in stored]
        return sorted(found, key=lambda rec: rec.created, reverse=True)

    # -- engine -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def leased(self, run_id: str, held: Lease | None = None) -> Iterator[Lease | None]:
        """Hold the run's lease for the body (RunOwned if another live process has it); with ``held``,
        use that one and leave it held.

        A backend without leases (TaskFlow's in-memory one, for tests) runs unleased.
        """
        if held is not None:
            yield held
            return
        if not hasattr(self._backend, "take_lease"):
            yield None
            return
        ttl = getattr(self._backend, "lease_ttl", None)
        lease = Lease(self._backend, run_id, self.holder, ttl).take()
        try:
            yield lease
        finally:
            lease.release()

    def _drive(self, run_id: str, failure_points: tuple[FailurePoint, ...], pause: bool | None,
               undo: bool = False, lease: Lease | None = None,
               loaded: tuple[models.LogBook, models.FlowDetail] | None = None) -> RunRecord:
        book, detail = loaded or records.load_detail(self._backend, run_id, self.state_url)
        _complete_a_half_stored_injector(detail)
        definition, values = records.definition_of(detail)
        if pause is not None:
            definition = dataclasses.replace(definition, on_failure=OnFailure.PAUSE if pause else OnFailure.REVERT)
        histories = {atom.name: len(atom.results) for atom in detail if isinstance(atom, models.RetryDetail)}
        interrupted = frozenset(atom.name for atom in detail
                                if isinstance(atom, models.TaskDetail) and atom.state == tf_states.RUNNING)
        options = RunOptions(
            run_id=run_id, clock=self._clock, failure_points=failure_points, resumed_histories=histories,
            interrupted=interrupted,
            started={atom.name for atom in detail if isinstance(atom, models.TaskDetail)
                     and atom.state not in (tf_states.PENDING, None)},
        )
        compiled = definition_compiler.compile_flow(definition, values, options)
        engine = taskflow.engines.load(
            compiled.flow,
            store=compiled.store,
            flow_detail=detail,
            book=book,
            backend=self._backend,
            engine="opsflow-parallel",
            executor=self._executor,
            max_workers=self._max_workers,
        )
        storage = engine.storage
        memory_lock = threading.Lock()

        def remember(path: str, key: str, value: Any) -> Any:
            with memory_lock:
                meta = RunMeta.of(storage.flow_meta)
                slot = meta.memory.get(path, {})
                if key in slot:
                    return slot[key]
                storage.update_flow_metadata(meta.with_memory(path, key, value).to_meta())
                return value

        options.request_suspend = engine.suspend
        options.memory = remember
        options.children = self.children
        if undo:  # a finished run: TaskFlow reverts atoms whose intention says so, newest first
            for atom in detail:
                storage.set_atom_intention(atom.name, tf_states.REVERT)
        options.signals = lambda: signals.names(self._backend, run_id, RunMeta.of(storage.flow_meta).signals)
        if RunMeta.of(storage.flow_meta).paused_at is not None:
            storage.update_flow_metadata(dataclasses.replace(RunMeta.of(storage.flow_meta), paused_at=None).to_meta())
        # A batch's children are the parent's task in progress; the observer hears of the parent only.
        observer = self._observer if RunMeta.of(detail.meta).parent is None else None
        if observer is not None:
            observer.started(run_id, compiled.task_count)
        bound = self.outage_bound if self.outage_bound is not None else (lease.ttl if lease else 0.0)
        engine.start_gate = lambda: not self._halt.is_set() and (lease is None or lease.wait_startable(bound))
        with self._listening(engine, detail, observer, lease, bound), self._tracked(engine, run_id):
            try:
                self._run_engine(engine, options)
            except Exception as exc:
                if lease is not None and lease.lost:
                    raise LeaseLost(run_id, "taken over while it ran") from exc
                if isinstance(exc, LeaseLost):
                    raise
                if _store_failed(exc):
                    raise StorageUnavailable(f"run {run_id} stopped: its state could not be stored: {exc}") from exc
                if storage.get_flow_state() not in _ENDED_BY_FAILURE:
                    raise OpsflowError(f"run {run_id} could not run: {exc}") from exc
                LOG.info("run %s ended with a failure: %s", run_id, exc)  # the record tells the rest
        if options.paused.is_set():
            storage.update_flow_metadata(
                dataclasses.replace(RunMeta.of(storage.flow_meta), paused_at=self._clock.now()).to_meta())
        return self.record(run_id)

    #: Engine passes a run may take to finish a revert TaskFlow stopped half way (see _run_engine).
    REVERT_PASSES = 3

    def _run_engine(self, engine: Any, options: RunOptions) -> None:
        """Run the engine; if it stopped half way through reverting everything, finish the revert.

        TaskFlow's parallel engine can end a flow-wide revert early: when a retried task's rewind
        and another task's failure cross, atoms are left with an intention to execute while the
        rest is undone, and the engine gives up with "Flow transition from 'RUNNING' to
        'SUSPENDED' is not allowed", the run stored RUNNING and half undone. Marking every atom
        for revert and running the engine again completes the revert; tasks that never started
        are skipped by their revert.
        """
        for attempt in range(self.REVERT_PASSES):
            try:
                engine.run()
                return
            except tf_exc.InvalidState as exc:
                storage = engine.storage
                atoms = [node for node, kind in engine.compilation.execution_graph.nodes(data="kind")
                         if kind in tf_compiler.ATOMS]
                undoing = options.reverting_all.is_set() or any(
                    storage.get_atom_state(atom.name) in _UNDOING for atom in atoms)
                if storage.get_flow_state() != tf_states.RUNNING or not undoing or attempt + 1 == self.REVERT_PASSES:
                    raise
                options.reverting_all.set()
                LOG.info("run %s: the engine stopped half way through its revert (%s); finishing it",
                         options.run_id, exc)
                for atom in atoms:
                    if storage.get_atom_intention(atom.name) != tf_states.REVERT:
                        storage.set_atom_intention(atom.name, tf_states.REVERT)

    @contextlib.contextmanager
    def _tracked(self, engine: Any, run_id: str) -> Iterator[None]:
        with self._engines_lock:
            self._engines[engine] = run_id
        try:
            yield
        finally:
            with self._engines_lock:
                self._engines.pop(engine, None)

    @contextlib.contextmanager
    def _listening(self, engine: Any, detail: models.FlowDetail, observer: Observer | None,
                   lease: Lease | None, bound: float) -> Iterator[None]:
        """Record each task's start and end in its metadata and report events.

        The timing is set by the worker once the task has acted, on the task's detail in memory
        only: the engine's save of the task's end (SUCCESS or FAILURE, with the result) stores it,
        so it costs no write of its own on any store. Written on its own, from the worker, it was a
        fifth write per task on SQLite, and the worker queued for the storage lock behind the
        engine's thread (wide flows: ~15% more CPU per task). Before the task acts, the worker
        waits until its RUNNING mark is stored (``wait_stored``), so a revert after a kill finds
        every task that may have made something.
        """
        # Atoms whose last try was a durable wait: the retry rewinds them before trying again.
        waiting = {atom.name for atom in detail
                   if isinstance(atom.failure, tf_failure.Failure) and atom.failure.check(WaitPending)}
        storage = engine.storage
        wait_stored = getattr(self._backend, "wait_stored", None)
        uuids: dict[str, str] = {}

        @contextlib.contextmanager
        def around_execute(name: str) -> Iterator[None]:
            if not uuids:  # the engine has added every atom to the detail before any task runs
                uuids.update((atom.name, atom.uuid) for atom in detail)
            # Not storage.get_atom_uuid: its lock makes each worker queue behind the engine's writes.
            uuid = uuids.get(name) or storage.get_atom_uuid(name)
            if wait_stored is not None:
                wait_stored(uuid)
            if lease is not None:
                _still_owner(lease, bound, name)
            started = self._clock.now()
            try:
                yield
            finally:
                # A new dict, not an update in place: clones of the detail may share its meta.
                atom = detail.find(uuid)
                atom.meta = {**atom.meta, "timing": {"started": started, "finished": self._clock.now()}}

        engine.around_execute = around_execute

        def on_atom(state: str, details: Mapping[str, Any]) -> None:
            name = details.get("task_name")
            if name is None:  # a retry controller: bookkeeping, not worth a write
                return
            result = details.get("result")
            if state == tf_states.FAILURE and isinstance(result, tf_failure.Failure) and result.check(WaitPending):
                waiting.add(name)  # a durable wait suspending the run, and its rewind: no failure to report
                return
            if name in waiting and state in (tf_states.REVERTING, tf_states.REVERTED):
                return
            waiting.discard(name)
            if observer is not None and not records.is_internal(name):
                observer.task(name, state)

        engine.atom_notifier.register("*", on_atom)
        try:
            yield
        finally:
            engine.atom_notifier.deregister("*", on_atom)

    def _sleep_until_due(self, record: RunRecord) -> None:
        """Hold a waiting run in this process until a wait is due or a signal arrives."""
        dues = [due for due in record.waits.values() if due is not None]
        while True:
            now = self._clock.now()
            if (dues and now >= min(dues)) or self._halt.is_set():
                return
            # Not "a signal newer than when we began holding": one sent between the run's last look
            # and ours would be older than that, and the run would sleep through it.
            if self._awaited_signal_delivered(record.run_id):
                return
            pause = self.SIGNAL_POLL if not dues else max(0.0, min(self.SIGNAL_POLL, min(dues) - now))
            self._halt.wait(pause)

    def _awaited_signal_delivered(self, run_id: str) -> bool:
        """True when a signal one of the run's pending waits takes has been delivered."""
        detail = records.load_detail(self._backend, run_id, self.state_url)[1]
        meta = RunMeta.of(detail.meta)
        done = {atom.name for atom in detail if atom.state == tf_states.SUCCESS}
        awaited = {signal for _due, signal in meta.waits(done).values() if signal is not None}
        return bool(awaited & signals.names(self._backend, run_id, meta.signals))

    def signals(self, run_id: str) -> list[str]:
        """Names of the signals delivered to a run so far (each once)."""
        detail = records.load_detail(self._backend, run_id, self.state_url)[1]
        return sorted(signals.names(self._backend, run_id, RunMeta.of(detail.meta).signals))
