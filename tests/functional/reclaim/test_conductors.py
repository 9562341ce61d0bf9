"""Reclaim under conductors: restarts during the waits lose nothing, a keep sent while none runs holds."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from opsflow.conductor import OffsetFileClock
from opsflow.engines.records import RunState
from opsflow.hibernate.swift import Swift
from opsflow.jobs import JobState
from opsflow.reclaim import operations, schedule
from opsflow.services.smtp import Capture
from tests.fixtures import eventually
from tests.functional.conductor.harness import Cluster
from tests.functional.reclaim.conftest import DAY, SOURCE_ADMIN, Tenancy, load_policy, policy_text

pytestmark = [pytest.mark.functional, pytest.mark.slow]  # ~100 s: conductors, a hibernation


def _stages(mail: Capture, server_id: str) -> list[str]:
    return [m["X-Opsflow-Stage"] for m in mail.messages() if m["X-Opsflow-Server"] == server_id]


def _waiting(cluster: Cluster, run_id: str) -> bool:
    job = cluster.view(run_id)
    return job is not None and job.state is JobState.WAITING


def test_conductors_restarted_during_the_waits_lose_nothing_and_the_server_is_hibernated(
        tenancy: Tenancy, mail: Capture, cluster: Cluster, tmp_path: Path) -> None:
    """The sweep as a job; kill -9 in the notice wait, SIGTERM in the final wait: one notice, one warning, hibernated."""
    tag = uuid.uuid4().hex[:6]
    lease = {"opsflow-sim:activity": "busy", "lease-until": "2026-01-01"}
    doomed = tenancy.wait(tenancy.boot(tenancy.as_alice, f"doomed-{tag}", metadata=dict(lease)))
    kept = tenancy.wait(tenancy.boot(tenancy.as_alice, f"kept-{tag}", metadata=dict(lease)))
    clock_file = tmp_path / "clock-offset"
    clock = OffsetFileClock(clock_file)
    rules = load_policy(tmp_path, policy_text(tenancy, mail.port, action="hibernate", notice="1d", final="1d"))
    site = operations.Site("", zookeeper=cluster.address_text, timeout=2.0, clock=clock)

    first = cluster.start("first", "--clock-file", str(clock_file))
    # The sweep itself is a job: generation 1 sweeps, waits 3 days, posts generation 2.
    sweep_run, posted = schedule.post(rules, cluster.address_text, 3 * DAY, 1, clock.now())
    assert posted and not schedule.post(rules, cluster.address_text, 3 * DAY, 1, clock.now())[1]
    eventually(lambda: _waiting(cluster, sweep_run), 120, "the sweep done and its pause begun")
    started = {t.path: t.result for t in cluster.runner.record(sweep_run).tasks}["sweep"]["started"]
    assert len(started) == 2
    runs = {c.server.id: c.run_id for c in operations.scan(rules, site, clock, dry_run=True).sweep.candidates}
    assert set(runs.values()) == set(started)
    for run_id in started:
        eventually(lambda: _waiting(cluster, run_id), 120, f"{run_id} in its notice wait")
    assert _stages(mail, doomed.id) == ["notice"] and _stages(mail, kept.id) == ["notice"]

    first.kill()  # a crash in the middle of the week
    operations.keep(site, SOURCE_ADMIN, kept.id, 30, "operator", clock)  # while no conductor runs
    second = cluster.start("second", "--clock-file", str(clock_file))
    eventually(lambda: cluster.view(runs[kept.id]) is None, 120, "the kept server's run ended")
    assert _outcome(cluster, runs[kept.id]) == "kept"

    clock_file.write_text(str(DAY + 60))
    eventually(lambda: _stages(mail, doomed.id) == ["notice", "final"] and _waiting(cluster, runs[doomed.id]),
               120, "the final warning sent and the final wait begun")
    assert second.terminate() == 0  # a graceful restart during the final wait
    third = cluster.start("third", "--clock-file", str(clock_file))
    clock_file.write_text(str(2 * DAY + 120))
    eventually(lambda: cluster.view(runs[doomed.id]) is None, 300, "the doomed server's run ended")

    assert _outcome(cluster, runs[doomed.id]) == "hibernated"
    assert tenancy.server(doomed.id) is None
    assert tenancy.server(kept.id).status == "ACTIVE"
    assert any(doomed.name in name for name in Swift(tenancy.as_alice).names("opsflow-hibernate"))
    assert _stages(mail, doomed.id) == ["notice", "final"]  # nothing sent twice, nothing lost
    counts = cluster.executions()
    assert counts["notify"] == 2 and counts["warn"] == 2 and counts["recheck"] == 2  # both runs, once each
    assert counts["store"] == 1 and counts["mark"] == 3  # one hibernate child (its own `mark` step too)
    assert third.process.poll() is None


def _outcome(cluster: Cluster, run_id: str) -> Any:
    record = cluster.runner.record(run_id)
    assert record.state is RunState.SUCCEEDED, record
    return {t.path: t.result for t in record.tasks}["record"]["outcome"]
