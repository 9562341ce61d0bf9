"""Operators act through the CLI on jobs that conductors hold: resume and revert paused jobs, clear refusals."""

from pathlib import Path

import pytest

from opsflow.engines.records import RunState
from opsflow.jobs import JobState
from tests.fixtures import FLAKY, eventually, opsflow
from tests.functional.conductor.harness import Cluster

pytestmark = [pytest.mark.functional, pytest.mark.slow]



def test_paused_jobs_stay_until_an_operator_resumes_one_and_reverts_the_other(
        cluster: Cluster, capsys: pytest.CaptureFixture[str]) -> None:
    """Both pause at b and stay on the board; `resume` finishes one, `revert` undoes the other."""
    cluster.start("solo")
    to_resume = cluster.submit(FLAKY)
    to_revert = cluster.submit(FLAKY)
    for run_id in (to_resume, to_revert):
        eventually(lambda: (job := cluster.view(run_id)) and job.state is JobState.PAUSED, what=f"{run_id} paused")
    code, out, _ = opsflow(capsys, "jobs", "list", "--zookeeper", cluster.address_text, "-f", "value", "-c", "state")
    assert code == 0 and out.split() == ["paused", "paused"]

    code, out, err = opsflow(capsys, "jobs", "watch", to_resume, "--zookeeper", cluster.address_text)
    assert code == 1 and "state=paused" in out and f"opsflow resume {to_resume}" in err

    assert opsflow(capsys, "resume", to_resume, "--zookeeper", cluster.address_text)[0] == 0
    assert opsflow(capsys, "revert", to_revert, "--zookeeper", cluster.address_text)[0] == 0
    code, out, _ = opsflow(capsys, "jobs", "watch", to_resume, "--zookeeper", cluster.address_text,
                           "--interval", "0.2", "--timeout", "60")
    assert code == 0 and out.rstrip().endswith(f"job {to_resume} succeeded"), out + _
    eventually(lambda: not cluster.board.entries(), what="both jobs left the board")
    resumed, reverted = cluster.runner.record(to_resume), cluster.runner.record(to_revert)
    assert resumed.state is RunState.SUCCEEDED and reverted.state is RunState.REVERTED
    assert {t.path: t.state for t in reverted.steps}["a"] == "REVERTED"
    code, out, _ = opsflow(capsys, "jobs", "show", to_resume, "--zookeeper", cluster.address_text, "-f", "json")
    assert code == 0 and '"state": "succeeded"' in out


SLOW = """
name: slow
tasks:
  - {name: a, action: core.echo, args: {message: a}}
  - name: naps
    for_each: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    concurrency: 1
    action: core.sleep
    args: {seconds: 0.3}
    after: [a]
"""


def test_revert_or_cancel_of_a_running_job_stops_it_first(
        cluster: Cluster, capsys: pytest.CaptureFixture[str]) -> None:
    """While a conductor runs them: `revert` stops one and undoes it, `cancel` stops the other and undoes nothing."""
    cluster.start("solo")
    to_revert, to_cancel = cluster.submit(SLOW), cluster.submit(SLOW)
    eventually(lambda: cluster.executions()["naps[1]"] == 2, what="both jobs under way")
    assert opsflow(capsys, "revert", to_revert, "--zookeeper", cluster.address_text)[0] == 0
    code, out, _ = opsflow(capsys, "cancel", to_cancel, "--zookeeper", cluster.address_text)
    assert code == 0 and f"job {to_cancel} cancelling" in out
    eventually(lambda: not cluster.board.entries(), 60, "both jobs left the board")
    reverted, cancelled = cluster.runner.record(to_revert), cluster.runner.record(to_cancel)
    assert reverted.state is RunState.REVERTED
    assert {t.path: t.state for t in reverted.tasks}["a"] == "REVERTED"
    assert cancelled.state is RunState.SUSPENDED
    assert {t.path: t.state for t in cancelled.tasks}["a"] == "SUCCESS"
    assert "naps[9]" not in cluster.executions()  # both stopped well before their end


def test_refusals_name_the_job_and_what_would_fit(cluster: Cluster, capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path) -> None:
    """Unknown job, a signal nothing waits for, a bad address: exit 2; an unreachable ZooKeeper: 1; one line each."""
    code, _, err = opsflow(capsys, "resume", "no-such-job", "--zookeeper", cluster.address_text)
    assert code == 2 and "no job with id 'no-such-job'" in err and "opsflow jobs list" in err

    flow = tmp_path / "flaky.yaml"
    flow.write_text(FLAKY)
    code, out, _ = opsflow(capsys, "submit", str(flow), "--zookeeper", cluster.address_text)
    queued = out.strip()  # no conductor runs: it stays queued
    assert code == 0 and cluster.view(queued).state == "queued"  # type: ignore[union-attr]
    code, _, err = opsflow(capsys, "signal", queued, "go", "--zookeeper", cluster.address_text)
    assert code == 2 and f"run {queued} waits for no signal 'go'; its waits take: none" in err
    code, out, _ = opsflow(capsys, "cancel", queued, "--zookeeper", cluster.address_text)
    assert code == 0 and f"job {queued} cancelled" in out
    code, _, err = opsflow(capsys, "cancel", queued, "--zookeeper", cluster.address_text)
    assert code == 2 and "no job with id" in err

    code, _, err = opsflow(capsys, "jobs", "list", "--zookeeper", "127.0.0.1:1")
    assert code == 1 and err.startswith("opsflow: cannot reach ZooKeeper at 127.0.0.1:1") and err.count("\n") == 1
    code, _, err = opsflow(capsys, "jobs", "list", "--zookeeper", "nonsense")
    assert code == 2 and "host:port" in err
