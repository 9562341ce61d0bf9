"""The control-plane ramp-up (``opsflow simulate``) on the simulated cloud: it stops at the breach and
says why, and a failure at any of its steps leaves no server and no record behind.

The profile asks an API p99 of 1 ms, which no real API here keeps, so the first step breaches it;
its second step would grow region source to 3 hypervisors, so a ramp that went on would show as a
third compute service. CI runs the breach and two failure points; ``OPSFLOW_RAMPUP_FULL_REVERT=1``
runs every step before and after.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import openstack
import pytest
from click.testing import CliRunner

from opsflow.cli import main
from opsflow.devcloud import clouds
from opsflow.devcloud.layout import Layout

pytestmark = pytest.mark.functional

PROFILE = """\
name: tight SLO
region: source
other_region_hypervisors: 2
steps:
  - {hypervisors: 2, boots_per_minute: 30, seconds: 12}
  - {hypervisors: 3, boots_per_minute: 30, seconds: 12}
slo:
  api_p99_ms: 1
  boot_p99_s: 120
"""
STEPS = ("scale", "measure", "judge")
POINTS = [f"step[0].{task}:{when}" for task in STEPS for when in ("before", "after")]
CI_POINTS = ["step[0].measure:after", "step[0].judge:after"]


@pytest.fixture
def admin(devcloud: Layout) -> Any:
    """Admin in region source: it sees every project's servers and the compute services."""
    conn = openstack.connect(cloud=clouds.cloud_names("source")[1])
    yield conn
    conn.close()


def _simulate(tmp_path: Path, *extra: str) -> Any:
    profile = tmp_path / "ramp.yaml"
    profile.write_text(PROFILE)
    return CliRunner().invoke(main, ["simulate", "--profile", str(profile), "--report-dir", str(tmp_path / "report"),
                                     "--state", f"sqlite:///{tmp_path / 'state.db'}", *extra])


def _ramp_servers(admin: Any) -> list[str]:
    return [s.name for s in admin.compute.servers(all_projects=True) if s.name.startswith("ramp-")]


def _computes(admin: Any) -> int:
    return sum(1 for s in admin.compute.services(binary="nova-compute") if s.state == "up")


def test_a_ramp_with_a_tight_slo_stops_at_the_breach_and_its_report_names_why(admin: Any, tmp_path: Path) -> None:
    """Step 0 breaches the API bound; step 1 never grows the region; the report says which bound,
    by how much, and what the bottleneck was; every server the load booted is gone."""
    result = _simulate(tmp_path)
    assert result.exit_code == 0, result.output
    assert "SLO breached; first bottleneck:" in result.output
    report = (tmp_path / "report" / "report.md").read_text()
    assert "**Stopped at step 0** (2 hypervisors)" in report
    assert "- api_p99_ms:" in report and "> 1 (p99 latency of the API calls (ms))" in report
    assert "**First bottleneck:**" in report and "1 later step(s) did not run." in report
    record = json.loads((tmp_path / "report" / "step-0.json").read_text())
    assert record["measures"]["boots"] == 6 and record["measures"]["boot_failure_ratio"] == 0.0
    assert record["measures"]["api_p99_ms"] > 1 and record["measures"]["db_connections"] > 0
    assert not (tmp_path / "report" / "step-1.json").exists()
    assert all((tmp_path / "report" / f"{plot}.png").stat().st_size > 0 for plot in ("latency", "broker", "cpu"))
    assert _computes(admin) == 2
    assert _ramp_servers(admin) == []


@pytest.mark.parametrize("point", POINTS if os.environ.get("OPSFLOW_RAMPUP_FULL_REVERT") else CI_POINTS)
def test_a_failure_at_any_step_reverts_the_ramp_leaving_no_server_and_no_record(admin: Any, tmp_path: Path,
                                                                                 point: str) -> None:
    """The run ends reverted (exit 1); no load server, no step record and no report are left."""
    result = _simulate(tmp_path, "--inject-failure", point)
    assert result.exit_code == 1, result.output
    assert "reverted" in result.output
    assert _ramp_servers(admin) == []
    assert not (tmp_path / "report" / "step-0.json").exists()
    assert not (tmp_path / "report" / "report.md").exists()
    assert _computes(admin) == 2
