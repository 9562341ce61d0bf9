"""What a forklift run did, server by server: moved, reverted, failed or still going; downtime, bytes,
rate and the time each step took — read from the stored runs alone, so it works while the batch
runs (live progress) and long after, from any machine that reaches the state backend.

A batch run (forklift-batch.yaml) is reported through its child runs, one per server; a single
forklift.yaml run is reported as a batch of one.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from typing import Any

from opsflow.engines.records import RunRecord, RunState, TaskState
from opsflow.engines.runner import Runner
from opsflow.stats import percentile

__all__ = ["COLUMNS", "Outcome", "ServerReport", "Summary", "of_run", "summarize"]


class Outcome(enum.Enum):
    """Where one server's migration stands."""

    MOVED = "moved"
    REVERTED = "reverted"
    FAILED = "failed"
    RUNNING = "running"


_OUTCOMES = {RunState.SUCCEEDED: Outcome.MOVED, RunState.REVERTED: Outcome.REVERTED, RunState.FAILED: Outcome.FAILED}


@dataclasses.dataclass(frozen=True)
class ServerReport:
    """One server's line of a report."""

    #: The source server's name (or what the run was given).
    server: str
    #: The run that moves it.
    run_id: str
    outcome: Outcome
    #: Seconds from the source's stop to the twin verified running (None until both happened).
    downtime: float | None
    #: Bytes carried (pre-copy included).
    bytes: int
    #: Bytes per second of the disk phases.
    rate: float | None
    #: Step -> seconds it took, in the flow's order.
    steps: dict[str, float]
    #: The first error, for a server that did not move.
    error: str | None


#: Columns of ``opsflow forklift report``.
COLUMNS = ("server", "outcome", "downtime", "bytes", "rate", "steps", "error", "run_id")

_DISK_STEPS = ("precopy", "copy")


def _server_report(record: RunRecord) -> ServerReport:
    tasks = {task.path: task for task in record.steps}
    results = {path: task.result for path, task in tasks.items() if task.state is TaskState.SUCCESS}
    read = results.get("read") or {}
    stopped = (results.get("stop_source") or {}).get("at")
    verified = (results.get("verify") or {}).get("at")
    carried = sum(int((results.get(step) or {}).get("bytes_sent") or 0) for step in _DISK_STEPS)
    disk_seconds = sum(tasks[step].duration or 0.0 for step in _DISK_STEPS if step in tasks and step in results)
    errors = [task.error for task in tasks.values() if task.error]
    return ServerReport(
        server=str(read.get("name") or record.inputs.get("server", "")), run_id=record.run_id,
        outcome=_OUTCOMES.get(record.state, Outcome.RUNNING),
        downtime=(verified - stopped) if stopped and verified else None, bytes=carried,
        rate=carried / disk_seconds if carried and disk_seconds else None,
        steps={path: round(task.duration, 3) for path, task in tasks.items() if task.duration is not None},
        error=None if record.state is RunState.SUCCEEDED else (errors[0] if errors else None))


def of_run(runner: Runner, run_id: str) -> list[ServerReport]:
    """Every server of a batch run (its children), or the one server of a forklift run."""
    children = runner.children_of(run_id)
    if children:
        return [_server_report(child) for child in children]
    return [_server_report(runner.record(run_id))]


@dataclasses.dataclass(frozen=True)
class Summary:
    """A report's totals."""

    servers: int
    moved: int
    reverted: int
    failed: int
    running: int
    bytes: int
    downtime_p50: float | None
    downtime_p99: float | None

    def line(self) -> str:
        """``moved: 48, reverted: 2, ...`` for the end of a report."""
        return ", ".join(f"{field.name}: {_fmt(getattr(self, field.name))}" for field in dataclasses.fields(self))


def _fmt(value: Any) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def summarize(reports: Sequence[ServerReport]) -> Summary:
    """Totals and downtime percentiles of a report."""
    count = {outcome: sum(r.outcome is outcome for r in reports) for outcome in Outcome}
    downtimes = sorted(r.downtime for r in reports if r.downtime is not None)
    return Summary(servers=len(reports), moved=count[Outcome.MOVED], reverted=count[Outcome.REVERTED],
                   failed=count[Outcome.FAILED], running=count[Outcome.RUNNING],
                   bytes=sum(r.bytes for r in reports if r.outcome is Outcome.MOVED),
                   downtime_p50=percentile(downtimes, 0.5), downtime_p99=percentile(downtimes, 0.99))
