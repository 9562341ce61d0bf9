"""What operators do with jobs in the distributed mode: submit, look, resume, revert, cancel, signal.

Operators never run a job themselves: they change what conductors will do with it. ``resume``
lifts a pause, ``revert`` asks the next conductor to revert instead of resuming, ``signal`` records
the signal with the run and lifts its wait, ``cancel`` takes the job off the board (its stored
state stays for ``opsflow flows show``; nothing is undone). Each checks that the action fits the
job's state and says what would fit instead; repeating one that already happened changes nothing.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import os
import socket
from collections.abc import Mapping
from typing import Any

from opsflow.engines.jobboard import Hold, HoldKind, JobBoard, JobEntry
from opsflow.engines.lease import LeaseRecord
from opsflow.engines.records import RunRecord
from opsflow.engines.runner import Runner
from opsflow.errors import ClaimConflict, InvalidState
from opsflow.flows.model import FlowDefinition
from opsflow.tasks.base import Clock, SystemClock

__all__ = ["JobState", "JobView", "cancel", "resume", "revert", "signal", "submit", "view", "views"]

LOG = logging.getLogger(__name__)


class JobState(enum.StrEnum):
    """A job's state as ``opsflow jobs list`` shows it (a member equals its text)."""

    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = HoldKind.PAUSED.value
    FAILED = HoldKind.FAILED.value
    WAITING = HoldKind.WAITING.value
    REVERTING = "reverting"
    REVERT_REQUESTED = "revert-requested"
    CANCELLING = "cancelling"
    CANCEL_REQUESTED = "cancel-requested"


#: Operators' requests a conductor acts on: what a job is called while being served, and before.
_REQUESTS = {
    HoldKind.REVERT: (JobState.REVERTING, JobState.REVERT_REQUESTED),
    HoldKind.CANCEL: (JobState.CANCELLING, JobState.CANCEL_REQUESTED),
}


@dataclasses.dataclass(frozen=True)
class JobView:
    """A job as an operator sees it: board entry, hold, claim holder and stored run."""

    #: The job on the board.
    entry: JobEntry
    #: Why it is held, if it is.
    hold: Hold | None
    #: The conductor holding the claim, if any.
    owner: str | None
    #: The run's stored state (None if it could not be read).
    record: RunRecord | None
    #: The run's lease: who drives it, and whether that process lives (None: never leased).
    lease: LeaseRecord | None = None
    #: Why the job is held, as its conductor said (a failed job's error).
    reason: str | None = None

    @property
    def state(self) -> JobState:
        """running, queued, paused, failed, waiting, reverting/revert-requested, cancelling/cancel-requested."""
        if self.hold is None:
            return JobState.QUEUED if self.owner is None else JobState.RUNNING
        if self.hold.kind in _REQUESTS:
            doing, requested = _REQUESTS[self.hold.kind]
            return requested if self.owner is None else doing
        return JobState.RUNNING if self.owner is not None else JobState(self.hold.kind.value)

    @property
    def due(self) -> float | None:
        """When a waiting job is due."""
        return self.hold.due if self.hold is not None and self.hold.kind is HoldKind.WAITING else None


def submit(board: JobBoard, runner: Runner, definition: FlowDefinition, values: Mapping[str, Any],
           clock: Clock | None = None) -> str:
    """Store a run (definition texts and inputs, in ZooKeeper) and post its job; returns the run id."""
    run_id = runner.create(definition, values)
    board.post(run_id, definition.name, (clock or SystemClock()).now())
    LOG.info("submitted job %s (%s)", run_id, definition.name)
    return run_id


def view(board: JobBoard, runner: Runner, ref: str) -> JobView:
    """One job by run id (or unique prefix), with the reason it is held."""
    entry = board.find(ref)
    holds = board.holds()
    job = _view(board, runner, entry, holds, runner.leases([entry.run_id]))
    if job.hold is not None:
        job = dataclasses.replace(job, reason=board.hold_reason(entry.run_id))
    return job


def views(board: JobBoard, runner: Runner) -> list[JobView]:
    """Every job on the board, oldest first."""
    holds = board.holds()
    entries = board.entries()
    leases = runner.leases([entry.run_id for entry in entries])
    return [_view(board, runner, entry, holds, leases) for entry in entries]


def _view(board: JobBoard, runner: Runner, entry: JobEntry, holds: Mapping[str, Hold],
          leases: Mapping[str, LeaseRecord]) -> JobView:
    owner = board.owner(entry) if entry.claimed else None
    try:
        record: RunRecord | None = runner.record(entry.run_id)
    except Exception as exc:  # a job whose run is unreadable is still worth listing
        LOG.warning("job %s: cannot read its run: %s", entry.run_id, exc)
        record = None
    return JobView(entry, holds.get(entry.run_id), owner, record, leases.get(entry.run_id))


def resume(board: JobBoard, runner: Runner, ref: str) -> JobView:
    """Let conductors continue a paused or failed job."""
    job = view(board, runner, ref)
    run_id = job.entry.run_id
    if job.state in (JobState.RUNNING, JobState.QUEUED):
        return job  # already running, or about to be
    if job.state is JobState.WAITING:
        raise InvalidState(
            f"job {run_id} is waiting ({_due_text(job)}); it resumes by itself when due — "
            f"`opsflow signal {run_id} NAME` ends a signal wait early, `opsflow revert {run_id}` undoes it"
        )
    if job.hold is not None and job.hold.kind in _REQUESTS:
        raise InvalidState(f"job {run_id} is {job.state}; `opsflow jobs watch {run_id}` follows it")
    board.clear_hold(run_id)
    return view(board, runner, run_id)


def revert(board: JobBoard, runner: Runner, ref: str) -> JobView:
    """Ask conductors to undo every completed task of a job, stopping it first if it is running."""
    job = view(board, runner, ref)
    run_id = job.entry.run_id
    if job.state not in (JobState.REVERTING, JobState.REVERT_REQUESTED):
        # A running job's conductor sees the request, lets the tasks in flight finish and lets go of it.
        board.set_hold(Hold(run_id, HoldKind.REVERT))
    return view(board, runner, run_id)


def cancel(board: JobBoard, runner: Runner, ref: str) -> JobView:
    """Take a job off the board, undoing nothing; a running one is stopped first by its conductor."""
    job = view(board, runner, ref)
    run_id = job.entry.run_id
    if job.owner is not None:
        # Its conductor sees the request, lets the tasks in flight finish and takes it off the board.
        board.set_hold(Hold(run_id, HoldKind.CANCEL))
        return view(board, runner, run_id)
    who = f"operator-{socket.gethostname()}-{os.getpid()}"
    try:
        board.claim(job.entry, who)
    except ClaimConflict:  # a conductor claimed it just now: ask it instead
        board.set_hold(Hold(run_id, HoldKind.CANCEL))
        return view(board, runner, run_id)
    board.trash(job.entry, who)
    LOG.info("cancelled job %s", run_id)
    return job


def signal(board: JobBoard, runner: Runner, ref: str, name: str) -> JobView:
    """Deliver a signal to a job's run, and wake it if it waits."""
    job = view(board, runner, ref)
    runner.signal(job.entry.run_id, name)
    if job.state is JobState.WAITING:
        board.clear_hold(job.entry.run_id)
    return view(board, runner, job.entry.run_id)


def _due_text(job: JobView) -> str:
    import datetime

    if job.due is None:
        return "for a signal"
    return "until " + datetime.datetime.fromtimestamp(job.due, datetime.timezone.utc).isoformat(timespec="seconds")
