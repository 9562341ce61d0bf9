"""A conductor SIGSTOPped past its session timeout, then resumed, never writes over the new owner.

Its claim lapses while it is stopped and another conductor takes the job (and the run's lease)
over; when it wakes, its tasks in flight finish, but every write it tries is fenced by the lease it
lost, so the new owner's record and hold stand.
"""

from __future__ import annotations

import signal

import pytest

from opsflow.engines.records import RunState, TaskState
from tests.fixtures import KILLABLE, eventually
from tests.functional.conductor.harness import Cluster, ConductorProcess

pytestmark = [pytest.mark.functional]

ITEMS = [str(i) for i in range(12)]
EXPECTED = {"first", "last", *(f"work[{i}]" for i in range(len(ITEMS)))}
#: Each item sleeps long enough that the stopped conductor wakes with tasks still in flight.
FLOW = KILLABLE.replace("seconds: 0.2", "seconds: 1.0")

#: A task runs beside a 4 s durable wait: the run reaches its wait while `slow` is still running.
WAITING = """
name: waiting
tasks:
  - {name: slow, action: core.sleep, args: {seconds: 3}}
  - {name: pause, action: core.wait, args: {seconds: 4}}
  - {name: after, action: core.echo, args: {message: done}, after: [slow, pause]}
"""


def _holder(cluster: Cluster, run_id: str) -> ConductorProcess:
    name = eventually(lambda: (job := cluster.view(run_id)) and job.owner, 60, "a claim")
    return next(c for c in cluster.conductors if c.name == name)


def _stop_until_taken_over(cluster: Cluster, run_id: str, stopped: ConductorProcess) -> None:
    stopped.process.send_signal(signal.SIGSTOP)
    try:
        eventually(lambda: (job := cluster.view(run_id)) is None or job.owner not in (None, stopped.name), 60,
                   "another conductor took the job over")
    finally:
        stopped.process.send_signal(signal.SIGCONT)


def test_stopped_during_tasks_then_resumed_writes_nothing_over_the_new_owner(cluster: Cluster) -> None:
    """SIGSTOP the holder mid-job past its session; the job succeeds elsewhere and stays succeeded after SIGCONT."""
    cluster.start("alpha")
    cluster.start("beta")
    run_id = cluster.submit(FLOW, items=ITEMS)
    holder = _holder(cluster, run_id)
    eventually(lambda: sum(holder.executions().values()) >= 4, 60, "four tasks started")
    owner = cluster.view(run_id).lease.owner  # type: ignore[union-attr]  # what `jobs list` shows
    assert owner is not None and owner.startswith(f"conductor {holder.name} (") and owner.endswith("(live)")
    at_stop = {t.path for t in cluster.runner.record(run_id).tasks if t.state is TaskState.SUCCESS}
    _stop_until_taken_over(cluster, run_id, holder)

    eventually(lambda: cluster.view(run_id) is None, 90, "the job finished and left the board")
    eventually(lambda: "lost" in holder.log.read_text(), 30, "the woken conductor noticed it lost the run")
    assert holder.process.poll() is None, holder.log.read_text()
    record = cluster.runner.record(run_id)
    assert record.state is RunState.SUCCEEDED
    assert all(t.state is TaskState.SUCCESS for t in record.steps)
    counts = cluster.executions()
    assert set(counts) == EXPECTED
    assert {path: counts[path] for path in at_stop if counts[path] != 1} == {}
    assert max(counts.values()) <= 2  # only tasks in flight at the stop ran again


def test_stopped_while_its_run_reaches_a_wait_then_resumed_leaves_the_new_owners_hold(cluster: Cluster) -> None:
    """SIGSTOP the holder while its run suspends for a wait; the new owner's wait hold stands and fires when due."""
    cluster.start("alpha")
    cluster.start("beta")
    run_id = cluster.submit(WAITING)
    holder = _holder(cluster, run_id)
    eventually(lambda: holder.executions()["slow"] >= 1, 60, "slow started beside the wait")
    _stop_until_taken_over(cluster, run_id, holder)

    eventually(lambda: cluster.view(run_id) is None, 90, "the wait fired and the job finished")
    record = cluster.runner.record(run_id)
    assert record.state is RunState.SUCCEEDED
    assert cluster.executions()["after"] == 1
    assert holder.process.poll() is None, holder.log.read_text()
