"""A signal sent while a conductor holds the job is honoured (the rest of a run's life: tests/functional/engines)."""

import pytest

from opsflow.engines.records import RunState, TaskState
from tests.fixtures import eventually, opsflow
from tests.functional.conductor.harness import Cluster

pytestmark = pytest.mark.functional


@pytest.mark.slow
def test_signal_sent_while_a_conductor_holds_the_job(
        cluster: Cluster, capsys: pytest.CaptureFixture[str]) -> None:
    """In distributed mode a signal sent while a conductor runs the job's first task ends its wait."""
    cluster.start("only")
    run_id = cluster.submit("""
name: held
tasks:
  - {name: slow, action: core.sleep, args: {seconds: 2}}
  - {name: approve, action: core.wait, args: {seconds: 86400, signal: go}, after: [slow]}
""")
    eventually(lambda: (job := cluster.view(run_id)) and job.owner == "only"
               and any(t.path == "slow" and t.state is TaskState.RUNNING for t in job.record.steps),  # type: ignore[union-attr]
               60, "the conductor running the first task")
    code, out, _err = opsflow(capsys, "signal", run_id, "go", "--zookeeper", cluster.address_text)
    assert code == 0, out
    eventually(lambda: cluster.view(run_id) is None, 60, "the job finished")
    record = cluster.runner.record(run_id)
    assert record.state is RunState.SUCCEEDED
    assert {t.path: t.result for t in record.steps}["approve"] == {"ended_by": "signal", "signal": "go"}
