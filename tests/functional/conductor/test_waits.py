"""Durable waits under conductors: a 7-day wait holds no worker, survives a restart and ends on the (test) clock."""

from pathlib import Path

import pytest

from opsflow.engines.records import RunState
from opsflow.jobs import JobState
from tests.fixtures import eventually, opsflow
from tests.functional.conductor.harness import Cluster

pytestmark = [pytest.mark.functional, pytest.mark.slow]

WEEK = """
name: week
tasks:
  - {name: a, action: core.echo, args: {message: a}}
  - {name: w, action: core.wait, args: {seconds: 604800}, after: [a]}
  - {name: c, action: core.echo, args: {message: c}, after: [w]}
"""
APPROVAL = """
name: approval
tasks:
  - {name: w, action: core.wait, args: {signal: approved}}
  - {name: c, action: core.echo, args: {message: c}, after: [w]}
"""


def test_week_long_wait_holds_no_worker_survives_restart_and_ends_when_the_clock_moves(
        cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Waiting jobs hold no worker; after a restart a week on the clock ends one, a signal the other."""
    clock = tmp_path / "clock-offset"
    first = cluster.start("first", "--clock-file", str(clock))
    week, approval = cluster.submit(WEEK), cluster.submit(APPROVAL)
    for run_id in (week, approval):
        eventually(lambda: (job := cluster.view(run_id)) and job.state is JobState.WAITING, what=f"{run_id} waiting")
    assert cluster.board.conductors()["first"]["jobs"] == []  # no worker held
    assert all(job.owner is None for job in (cluster.view(week), cluster.view(approval)))
    code, _, err = opsflow(capsys, "resume", week, "--zookeeper", cluster.address_text)
    assert code == 2 and "is waiting (until" in err  # the request does not fit the state
    assert first.terminate() == 0

    second = cluster.start("second", "--clock-file", str(clock))
    assert opsflow(capsys, "signal", approval, "approved", "--zookeeper", cluster.address_text)[0] == 0
    eventually(lambda: cluster.view(approval) is None, what="the approval ended by its signal")
    assert cluster.view(week).state == "waiting"  # type: ignore[union-attr]
    clock.write_text(str(7 * 24 * 3600 + 1))
    eventually(lambda: cluster.view(week) is None, what="the week-long wait ended on the clock")

    record = cluster.runner.record(week)
    assert record.state is RunState.SUCCEEDED
    assert {t.path: t.result for t in record.tasks}["w"]["ended_by"] == "time"
    assert cluster.runner.record(approval).state is RunState.SUCCEEDED
    counts = cluster.executions()
    assert counts["a"] == 1 and counts["c"] == 2  # one `c` per flow, never twice
    assert second.executions()["w"] == 2  # the second conductor woke both waits
