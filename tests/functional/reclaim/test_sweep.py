"""The sweep on the simulated cloud: every kind of candidate is found, and a dry run changes nothing."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from opsflow.reclaim import operations
from opsflow.reclaim.audit import open_store
from opsflow.reclaim.policy import Policy
from opsflow.services.smtp import Capture
from tests.fixtures import eventually, opsflow
from tests.functional.reclaim.conftest import MovableClock, Tenancy, load_policy, policy_text

pytestmark = pytest.mark.functional

IDLE_POLICY = {"idle: {days: 1}": "idle: {days: 0.0002}"}  # ~17 s: the simulator's idle VM qualifies soon


def _fleet(tenancy: Tenancy) -> dict[str, Any]:
    """Boot failures, a disabled owner, idle, expired, busy and an exempt server; all waited for."""
    tag = uuid.uuid4().hex[:6]
    made = {
        "error": tenancy.boot(tenancy.as_alice, f"error-{tag}", metadata={"opsflow-sim:fail": "boot"}),
        "orphan": tenancy.boot(tenancy.as_bob, f"orphan-{tag}", metadata={"opsflow-sim:activity": "busy"}),
        "idle": tenancy.boot(tenancy.as_alice, f"idle-{tag}", metadata={"opsflow-sim:activity": "idle"}),
        "expired": tenancy.boot(tenancy.as_alice, f"expired-{tag}", metadata={
            "opsflow-sim:activity": "busy", "lease-until": "2026-01-01"}),
        "busy": tenancy.boot(tenancy.as_alice, f"busy-{tag}", metadata={"opsflow-sim:activity": "busy"}),
        "exempt": tenancy.boot(tenancy.as_alice, f"exempt-{tag}", tags=["reclaim-exempt"], metadata={
            "opsflow-sim:activity": "busy", "lease-until": "2026-01-01"}),
    }
    for key, server in made.items():
        made[key] = tenancy.wait(server, "ERROR" if key == "error" else "ACTIVE")
    return made


def _looks(tenancy: Tenancy, servers: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    seen = {}
    for key, server in servers.items():
        now = tenancy.server(server.id)
        seen[key] = (now.status, dict(now.metadata), sorted(now.tags or []))
    return seen


def test_every_kind_of_candidate_is_found_and_a_dry_run_changes_nothing(
        tenancy: Tenancy, mail: Capture, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """ERROR, disabled owner, idle and expired servers are listed with why; busy and exempt ones are not."""
    servers = _fleet(tenancy)
    tenancy.admin.identity.update_user(tenancy.bob, enabled=False)
    try:
        text = policy_text(tenancy, mail.port)
        for old, new in IDLE_POLICY.items():
            text = text.replace(old, new)
        rules: Policy = load_policy(tmp_path, text)
        state = f"sqlite:///{tmp_path}/state.db"
        before = _looks(tenancy, servers)
        clock = MovableClock()
        found = eventually(lambda: (done := operations.scan(rules, operations.Site(state, clock=clock), clock,
                                                             dry_run=True))
                           and len(done.sweep.candidates) == 4 and done, 60, "the idle server looking idle")
        by_id = {c.server.id: c for c in found.sweep.candidates}
        names = {key for key, server in servers.items() if server.id in by_id}
        assert names == {"error", "orphan", "idle", "expired"}
        assert by_id[servers["error"].id].detectors == ("boot_failure",)
        assert "disabled in Keystone" in by_id[servers["orphan"].id].reasons[0]
        assert "no CPU activity since" in by_id[servers["idle"].id].reasons[0]
        assert "lease (lease-until=2026-01-01) expired" in by_id[servers["expired"].id].reasons[0]
        assert servers["exempt"].id in {s.id for s, _ in found.sweep.excluded}
        assert found.sweep.diagnostics_calls <= 4  # only ACTIVE servers old enough to be idle are asked
        assert found.sweep.calls - found.sweep.diagnostics_calls <= 4  # servers page, users, projects (+token)
        assert found.started == () and found.cleared == ()

        code, out, err = opsflow(capsys, "reclaim", "scan", "--policy", str(tmp_path / "policy.yaml"), "--dry-run",
                                 "--state", state, "-f", "json", "-c", "name")
        assert code == 0
        assert sorted(row["name"] for row in json.loads(out)) == sorted(
            servers[k].name for k in ("error", "orphan", "idle", "expired"))

        assert _looks(tenancy, servers) == before  # no tag, no metadata, no power change
        with open_store(state) as store:
            assert store.claims() == {} and store.events() == []
        assert mail.messages() == []
    finally:
        tenancy.admin.identity.update_user(tenancy.bob, enabled=True)
        for server in servers.values():
            tenancy.admin.compute.delete_server(server, ignore_missing=True)
