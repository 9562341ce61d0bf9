"""ZooKeeper stopped mid-run, then restarted: an outage is a wait, not a failure.

A conductor started with ``--outage-bound 20`` starts no task while cut off. Shorter outages only
pause its job, which then goes on by itself; a longer one makes it let the job go (never a
``failed`` hold), and the job is continued once ZooKeeper is back. Either way no completed task
runs again, and the job ends succeeded.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsflow import jobs
from opsflow.engines.jobboard import HoldKind
from opsflow.engines.records import RunState, TaskState
from opsflow.services.zookeeper import ZooKeeperServer, find_free_ports
from tests.fixtures import KILLABLE, eventually
from tests.functional.conductor.harness import Cluster

pytestmark = [pytest.mark.functional]

ITEMS = [str(i) for i in range(24)]
EXPECTED = {"first", "last", *(f"work[{i}]" for i in range(len(ITEMS)))}
FLOW = KILLABLE.replace("seconds: 0.2", "seconds: 1.0")
BOUND = 20.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ZooKeeperServer]:
    # A server of this test's own: it is stopped on purpose.
    server = ZooKeeperServer(tmp_path / "zookeeper", find_free_ports(1))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("outage", [
    pytest.param(5.0, id="5s"),
    pytest.param(15.0, id="15s"),
    pytest.param(40.0, id="40s", marks=pytest.mark.slow),
])
def test_zookeeper_stopped_mid_run_then_restarted(tmp_path: Path, server: ZooKeeperServer, outage: float) -> None:
    """Stop ZooKeeper with tasks in flight, restart it after ``outage`` s: the job succeeds, completed tasks ran once."""
    cluster = Cluster(tmp_path, f"{server.hosts}/opsflow")
    try:
        conductor = cluster.start("alpha", "--outage-bound", str(BOUND))
        run_id = cluster.submit(FLOW, items=ITEMS)
        eventually(lambda: sum(conductor.executions().values()) >= 4, 60, "four tasks started")
        at_stop = {t.path for t in cluster.runner.record(run_id).tasks if t.state is TaskState.SUCCESS}
        started_at_stop = sum(conductor.executions().values())
        server.stop()
        stopped = time.monotonic()
        # Nothing starts while cut off (the tasks in flight may finish).
        eventually(lambda: "connection suspended" in conductor.log.read_text(), 30, "the conductor saw the outage")
        time.sleep(max(0.0, outage - (time.monotonic() - stopped)))  # the outage itself: nothing to wait on
        assert sum(conductor.executions().values()) <= started_at_stop + 3  # at most one more per lane
        server.start()

        eventually(lambda: cluster.view(run_id) is None, 120, "the job finished and left the board")
        assert cluster.runner.record(run_id).state is RunState.SUCCEEDED
        log = conductor.log.read_text()
        assert "holding it for an operator" not in log
        assert conductor.process.poll() is None, log
        counts = cluster.executions()
        assert set(counts) == EXPECTED
        assert {path: counts[path] for path in at_stop if counts[path] != 1} == {}
        assert max(counts.values()) <= 2
        if outage < BOUND:
            assert "letting it go" not in log and "interrupted" not in log, log
    finally:
        cluster.close()


def test_a_failed_hold_is_set_only_for_the_jobs_own_failure_and_shows_its_reason(cluster: Cluster) -> None:
    """A job whose revert fails is held failed, and `jobs show` names the task and its error."""
    # A failing task whose revert is a failing compensation: the revert fails, the job is held failed.
    flow = """
name: broken
tasks:
  - name: step
    action: core.echo
    args: {message: hi}
    revert: {action: core.fail, args: {message: cannot undo}}
  - {name: boom, action: core.fail, args: {message: on purpose}, after: [step]}
"""
    cluster.start("alpha")
    run_id = cluster.submit(flow)
    job = eventually(lambda: (view := cluster.view(run_id)) and view.hold is not None and view.owner is None
                     and view, 60, "the job held")
    assert job.hold.kind is HoldKind.FAILED
    shown = jobs.view(cluster.board, cluster.runner, run_id)  # what `opsflow jobs show` prints as "reason"
    assert shown.reason and "boom" in shown.reason and "on purpose" in shown.reason, shown.reason
