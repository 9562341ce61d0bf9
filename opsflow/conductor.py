"""The conductor daemon: claims jobs from the ZooKeeper jobboard and runs them, several at a time.

TaskFlow's stock conductor reverts a failed job and then consumes it, and knows nothing of durable
waits; opsflow's differs in what it does when a run stops:

==================  =============================================================================
run ends            the conductor
==================  =============================================================================
succeeded/reverted  consumes the job (it leaves the board)
paused              holds it ``paused`` and gives the claim back: it stays visible, unclaimed, until
                    an operator runs ``opsflow resume``, ``revert`` or ``cancel``
failed              (a revert that failed) the same, held ``failed``
waiting             holds it ``waiting`` with the due time and gives the claim back: no thread and no
                    worker are held for days; any conductor claims it again when due or signalled
suspended           (this conductor is stopping) gives the claim back; another one continues
==================  =============================================================================

Holds are ZooKeeper nodes (see :mod:`opsflow.engines.jobboard`), so they survive every conductor
restart. Runs go through :class:`~opsflow.engines.runner.Runner` with ``hold_waits=False``, whose
state is in ZooKeeper too: a conductor killed mid-job loses its session, its claims lapse, and any
other conductor resumes the job from the stored state — completed tasks do not run again, only
those in flight (at-least-once, which every action tolerates).

Bounds that actions hold (:mod:`opsflow.tasks.slots`, e.g. a forklift batch's transfers at once)
are ZooKeeper semaphores under ``<root>/slots`` while a conductor runs, so they hold across all
conductors of the board.

SIGTERM (:meth:`Conductor.stop`): stop claiming, suspend every run once its tasks in flight finish,
give the claims back, return.

Ownership: a claimed job's run is driven under the run's lease (:mod:`opsflow.engines.lease`), held
until the job is settled, and the hold a conductor sets is fenced by it too. While the ZooKeeper
connection is SUSPENDED no task starts (the engines' start gate); an outage shorter than
``outage_bound`` is only a pause, a longer one makes the conductor let its jobs go (abandon: no
``failed`` hold). A job is held ``failed`` only for a failure of the job itself, with the reason in
the hold (``opsflow jobs show``). A conductor that lost a run (SIGSTOPped past its session, say)
cannot write over the new owner's state: every write is fenced (LeaseLost), and it lets go.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent import futures
from pathlib import Path

from taskflow import exceptions as tf_exc

from opsflow.engines import retention
from opsflow.engines.children.board import BoardChildren
from opsflow.engines.jobboard import Address, Hold, HoldKind, JobBoard, JobEntry, iter_due
from opsflow.engines.lease import Lease
from opsflow.engines.records import RunRecord, RunState
from opsflow.engines.runner import Runner
from opsflow.errors import BackendUnavailable, ClaimConflict, InvalidState, LeaseLost, RunOwned
from opsflow.tasks import slots
from opsflow.tasks.base import Clock, SystemClock

__all__ = ["Conductor", "OffsetFileClock"]

LOG = logging.getLogger(__name__)


def _store_trouble(exc: BaseException) -> bool:
    """True when the store being unreachable is what ended a run (anywhere in the chain of causes)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (BackendUnavailable, LeaseLost, tf_exc.StorageFailure)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class OffsetFileClock:
    """The system clock plus a number of seconds read from a file (absent or empty: zero).

    A conductor is a real process, so a test cannot hand it a fake clock object; it writes
    ``604800`` into the file instead, and every wait in every run this conductor drives sees a week
    pass. Read on every call, so a moved clock is seen at the conductor's next look at the board.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def now(self) -> float:
        """``time.time()`` plus the file's offset."""
        try:
            offset = float(self.path.read_text().strip() or 0.0)
        except (OSError, ValueError):
            offset = 0.0
        return time.time() + offset


class Conductor:
    """Claims jobs under one address and runs up to ``max_jobs`` of them at once."""

    #: Seconds between looks at the board when no watch fires (a moved clock, a due wait).
    POLL = 1.0
    #: Seconds between suspend requests while stopping (a job may be between claim and engine start).
    STOP_POLL = 0.1
    #: Seconds a conductor keeps retrying to record a job's outcome through ZooKeeper trouble.
    PERSIST_FOR = 30.0

    def __init__(
        self,
        address: Address,
        *,
        name: str | None = None,
        max_jobs: int = 4,
        workers: int = 8,
        clock: Clock | None = None,
        outage_bound: float | None = None,
        retain: retention.Policy | None = retention.Policy(),
        prune_every: float = retention.DEFAULT_EVERY,
    ) -> None:
        if max_jobs < 1 or workers < 1:
            raise ValueError(f"a conductor needs at least one job slot and one worker, not {max_jobs}/{workers}")
        self.address = address
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.max_jobs = max_jobs
        self.workers = workers
        self.clock: Clock = clock or SystemClock()
        #: Seconds of ZooKeeper outage that only pause the runs; past it their jobs are let go.
        self.outage_bound = outage_bound if outage_bound is not None else address.timeout
        #: Set while the jobboard's connection is SUSPENDED: claim nothing.
        self._cut_off = threading.Event()
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._active: dict[str, JobEntry] = {}
        #: Active jobs this conductor is reverting (an operator's revert request must not stop those).
        self._reverting: set[str] = set()
        self._active_lock = threading.Lock()
        self._board: JobBoard | None = None
        self._runner: Runner | None = None
        self._children: BoardChildren | None = None
        #: Jobs finished (consumed) by this conductor, for logs and benchmarks.
        self.completed = 0
        #: What this conductor last wrote to its node (None: write again, e.g. after a lost session).
        self._published: dict[str, object] | None = None
        #: Which finished runs lose their detail, and how often this conductor looks (None or 0: never).
        self.retain = retain
        self.prune_every = prune_every if retain is not None else 0.0

    # -- lifecycle ----------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop claiming and let :meth:`run` wind down (safe from any thread, safe to repeat)."""
        self._stopping.set()
        self._wake.set()

    def run(self) -> None:
        """Claim and run jobs until :meth:`stop`; then suspend runs in flight and release their claims."""
        board = self._board = JobBoard(self.address)
        runner = self._runner = Runner(self.address.state_url, clock=self.clock, max_workers=self.workers,
                                       owner=self.name, outage_bound=self.outage_bound)
        self._children = runner.use_jobboard(board)  # child runs become jobs every conductor shares
        # actions' bounds (a batch's transfers at once) count across every conductor of this board
        local_slots = slots.use(slots.ZooKeeperSlots(board.client, f"{self.address.root}/slots"))
        pool = futures.ThreadPoolExecutor(self.max_jobs, thread_name_prefix="opsflow-job")
        retain = self.retain or retention.Policy()
        pruner = retention.Pruner(lambda: runner.prune(retain, board=board), board, self.prune_every,
                                  who=self.name)
        pruner.start()
        try:
            board.watch(self._wake.set)
            board.on_session_lost(self._session_lost)
            board.on_connection(self._connection_changed)
            self._publish()
            LOG.info("conductor %s serving %s (%d jobs, %d workers)", self.name, self.address, self.max_jobs,
                     self.workers)
            while not self._stopping.is_set():
                self._wake.clear()
                timeout = self._claim_some(pool)
                self._wake.wait(timeout)
            LOG.info("conductor %s stopping: suspending %d running jobs", self.name, len(self._active))
            while self._active:
                runner.suspend()
                time.sleep(self.STOP_POLL)
            pool.shutdown(wait=True)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
            slots.use(local_slots)
            pruner.stop()
            runner.close()
            board.close()
            LOG.info("conductor %s stopped", self.name)

    def _connection_changed(self, suspended: bool) -> None:
        if suspended:
            if not self._cut_off.is_set():
                LOG.warning("conductor %s: ZooKeeper connection suspended; starting no task until it is back",
                            self.name)
            self._cut_off.set()
        else:
            self._cut_off.clear()
            self._wake.set()

    def _session_lost(self) -> None:
        if self._stopping.is_set() and not self._active:
            return  # closing the board ends the session on purpose
        # Our claims are gone: another conductor may already be resuming these runs.
        LOG.warning("conductor %s lost its ZooKeeper session; suspending its runs", self.name)
        self._published = None  # the ephemeral node went with the session
        if self._runner is not None:
            self._runner.suspend()

    # -- claiming -----------------------------------------------------------------------------

    def _claim_some(self, pool: futures.Executor) -> float:
        """Claim what this conductor has room for; return how long to sleep before looking again."""
        assert self._board is not None
        if self._cut_off.is_set():
            return self.POLL
        try:
            free = self.max_jobs - len(self._active)
            holds = self._board.holds()
            now = self.clock.now()
            self._stop_requested(holds)
            if free > 0:
                for entry in self._board.entries():
                    if free <= 0 or self._stopping.is_set():
                        break
                    hold = holds.get(entry.run_id)
                    if entry.claimed or entry.run_id in self._active or (hold is not None and not hold.ready(now)):
                        continue
                    try:
                        self._board.claim(entry, self.name)
                    except ClaimConflict:
                        continue
                    LOG.info("conductor %s claimed job %s (%s)", self.name, entry.run_id, entry.name)
                    with self._active_lock:
                        self._active[entry.run_id] = entry
                    free -= 1
                    pool.submit(self._work, entry)
                self._publish()
        except BackendUnavailable as exc:
            LOG.warning("conductor %s cannot read the board: %s", self.name, exc)
            return self.POLL
        later = [due - now for due in iter_due(holds) if due > now]
        return max(0.01, min([self.POLL, *later]))

    def _stop_requested(self, holds: dict[str, Hold]) -> None:
        """Suspend running jobs an operator asked to revert or cancel; whoever claims them next does it."""
        assert self._runner is not None
        with self._active_lock:
            doomed = [(run_id, holds[run_id].kind) for run_id in self._active if run_id in holds
                      and holds[run_id].kind in (HoldKind.REVERT, HoldKind.CANCEL) and run_id not in self._reverting]
        for run_id, kind in doomed:
            LOG.info("conductor %s suspending job %s: an operator asked to %s it", self.name, run_id, kind.value)
            self._runner.suspend(run_id)

    def _publish(self) -> None:
        assert self._board is not None
        with self._active_lock:
            jobs = sorted(self._active)
        status = {"pid": os.getpid(), "host": socket.gethostname(), "jobs": jobs, "capacity": self.max_jobs,
                  "completed": self.completed}
        if status == self._published:
            return
        try:
            self._board.register(self.name, status)
            self._published = status
        except BackendUnavailable as exc:
            LOG.warning("conductor %s cannot publish its status: %s", self.name, exc)

    # -- one job ------------------------------------------------------------------------------

    def _work(self, entry: JobEntry) -> None:
        assert self._board is not None and self._runner is not None
        lease: Lease | None = None
        try:
            hold = self._board.hold(entry.run_id)
            if hold is not None and hold.kind is HoldKind.CANCEL:
                LOG.info("conductor %s cancelling job %s", self.name, entry.run_id)
                board = self._board
                self._persist(lambda: board.trash(entry, self.name))
                return
            signals_before = set(self._runner.signals(entry.run_id))
            with self._runner.leased(entry.run_id) as lease:
                record = self._drive(entry, hold, lease)
                self._settle(entry, record, signals_before, lease.fence if lease is not None else None)
        except RunOwned as exc:
            # Its previous owner's session has not lapsed yet (or an operator runs it by hand).
            LOG.info("job %s: not ours yet on conductor %s: %s", entry.run_id, self.name, exc)
            self._let_go(entry)
        except LeaseLost as exc:
            LOG.warning("job %s: conductor %s lost it to another owner: %s", entry.run_id, self.name, exc)
            self._let_go(entry)
        except BackendUnavailable as exc:
            # ZooKeeper trouble: our claim lapses with the session if it has not already; let go.
            LOG.warning("job %s interrupted on conductor %s: %s", entry.run_id, self.name, exc)
            self._let_go(entry)
        except Exception as exc:  # a job that cannot be driven at all must not be retried forever
            if lease is not None and lease.lost:
                # Whatever failed, this conductor no longer owns the run (it woke from a SIGSTOP past
                # its session, say): the job is its new owner's, and holding it failed here would
                # stop it for good.
                LOG.warning("job %s: conductor %s lost it to another owner before: %s", entry.run_id, self.name, exc)
                self._let_go(entry)
                return
            if _store_trouble(exc):
                LOG.warning("job %s interrupted on conductor %s by the store: %s", entry.run_id, self.name, exc)
                self._let_go(entry)
                return
            LOG.exception("job %s could not be run; holding it for an operator", entry.run_id)
            try:
                self._board.set_hold(Hold(entry.run_id, HoldKind.FAILED), reason=f"could not be run: {exc}")
            finally:
                self._let_go(entry)
        finally:
            with self._active_lock:
                self._active.pop(entry.run_id, None)
                self._reverting.discard(entry.run_id)
            self._publish()
            self._wake.set()

    def _drive(self, entry: JobEntry, hold: Hold | None, lease: Lease | None) -> RunRecord:
        assert self._runner is not None
        try:
            if hold is not None and hold.kind is HoldKind.REVERT:
                LOG.info("conductor %s reverting job %s", self.name, entry.run_id)
                self._reverting.add(entry.run_id)
                return self._runner.revert(entry.run_id, lease=lease)
            return self._runner.resume(entry.run_id, hold_waits=False, lease=lease)
        except InvalidState:
            # It had finished, but its conductor died before consuming the job.
            return self._runner.record(entry.run_id)

    def _settle(self, entry: JobEntry, record: RunRecord, signals_before: set[str],
                fence: tuple[str, int] | None) -> None:
        assert self._board is not None and self._runner is not None
        state = record.state
        LOG.info("job %s %s on conductor %s", entry.run_id, state.value, self.name)
        board, runner, children = self._board, self._runner, self._children
        assert children is not None
        self._persist(lambda: children.settled(record))  # a child: its batch learns, before the job goes
        if state in (RunState.SUCCEEDED, RunState.REVERTED):
            self._persist(lambda: board.consume(entry, self.name))
            self.completed += 1
            return
        if state in (RunState.PAUSED, RunState.FAILED):
            reason = "; ".join(f"{t.path}: {t.error}" for t in record.steps if t.error and t.state != "SUCCESS")
            self._persist(lambda: board.set_hold(Hold(entry.run_id, HoldKind(state.value)), reason, fence))
        elif state is RunState.WAITING:
            dues = [due for due in record.waits.values() if due is not None]
            wait = Hold(entry.run_id, HoldKind.WAITING, min(dues) if dues else None)
            self._persist(lambda: board.set_hold(wait, fence=fence))
            self._persist(lambda: children.held_waiting(record))  # its children may all have ended meanwhile
            # A signal delivered while the run was getting to its wait found no hold to lift.
            if set(runner.signals(entry.run_id)) - signals_before:
                self._persist(lambda: board.clear_hold(entry.run_id))
        self._let_go(entry)

    def _persist(self, operation: Callable[[], None]) -> None:
        """Retry a board update through a ZooKeeper fail-over (the session, and our claim, survive it).

        Giving up early would leave the job claimed by a live session: no other conductor could
        ever take it.
        """
        deadline = time.monotonic() + self.PERSIST_FOR
        delay = 0.05
        while True:
            try:
                operation()
                return
            except BackendUnavailable:
                if time.monotonic() + delay > deadline:
                    raise
                time.sleep(delay)
                delay = min(1.0, delay * 2)

    def _let_go(self, entry: JobEntry) -> None:
        assert self._board is not None
        board = self._board
        try:
            self._persist(lambda: board.abandon(entry, self.name))
        except (BackendUnavailable, tf_exc.NotFound, tf_exc.JobFailure) as exc:
            # The session (and with it the claim) is gone already, or another conductor has it now.
            LOG.info("job %s: claim not given back (%s); it lapsed with the session", entry.run_id, exc)
