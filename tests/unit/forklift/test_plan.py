"""Plan files and report totals, without any cloud."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsflow.errors import PlanError
from opsflow.forklift import plan, report
from opsflow.forklift.preflight import Problem
from opsflow.tasks.migration import Mode


def _plan() -> plan.Plan:
    server = plan.PlannedServer("id-1", "web-1", "p1", "sim-sou-001", "m1.tiny", "cirros-sim", ("net",),
                                ("default", "web"), 1 << 30)
    return plan.Plan("a", "b", Mode.WARM, "tag", {"flavors": {"m1.tiny": "small"}}, (server,),
                     (Problem("web-1", "name taken", "rename it"), Problem("", "image copied", "none", False)),
                     {"transfers": 4, "per_source_host": 1, "api_calls_per_second": 20,
                      "bytes_per_second_per_host": 50 << 20})


def test_a_dumped_plan_loads_back_unchanged(tmp_path: Path) -> None:
    """What `forklift plan` writes, `forklift apply` reads back field for field, problems included."""
    path = tmp_path / "plan.yaml"
    path.write_text(plan.dump(_plan()))
    assert plan.load(str(path)) == _plan()


def test_a_plan_runs_forklift_batch_with_its_servers_in_order() -> None:
    """A plan's batch inputs carry its clouds, mode, finish, non-empty mappings and server ids in order."""
    assert _plan().inputs() == {"servers": ["id-1"], "source_cloud": "a", "destination_cloud": "b", "mode": "warm",
                                "finish": "tag", "mappings": {"flavors": {"m1.tiny": "small"}},
                                "limits": {"transfers": 4, "per_source_host": 1, "api_calls_per_second": 20,
                                           "bytes_per_second_per_host": 50 << 20}}


@pytest.mark.parametrize("limits", ["limits: 3", "limits: {transfers: 0}", "limits: {transfers: two}",
                                    "limits: {per_host: 2}", "limits: {api_calls_per_second: 0}",
                                    "limits: {bytes_per_second_per_host: 10M}"])
def test_a_plan_with_bad_limits_is_refused_with_one_line_naming_them(tmp_path: Path, limits: str) -> None:
    """Limits must be whole numbers ≥ 1 under the known keys; anything else names the file and the fix."""
    path = tmp_path / "plan.yaml"
    text = plan.dump(_plan()).replace("limits:\n  transfers: 4\n  per_source_host: 1\n  per_destination_host: null\n"
                                      "  api_calls_per_second: 20\n  bytes_per_second_per_host: 52428800\n",
                                      limits + "\n")
    assert limits in text
    path.write_text(text)
    with pytest.raises(PlanError, match=r"plan\.yaml: limits") as raised:
        plan.load(str(path))
    assert "\n" not in str(raised.value)


def _row(outcome: report.Outcome, downtime: float | None, sent: int = 10) -> report.ServerReport:
    return report.ServerReport("s", "r", outcome, downtime, sent, None, {}, None)


def test_summary_counts_outcomes_and_downtime_of_moved_servers() -> None:
    """Totals count each outcome; bytes and downtime percentiles come from the moved servers only."""
    rows = [_row(report.Outcome.MOVED, float(d)) for d in range(1, 101)] + [
        _row(report.Outcome.REVERTED, None), _row(report.Outcome.FAILED, None)]
    summary = report.summarize(rows)
    assert (summary.servers, summary.moved, summary.reverted, summary.failed, summary.running) == (102, 100, 1, 1, 0)
    assert summary.bytes == 1000
    assert summary.downtime_p50 == 50.5 and summary.downtime_p99 is not None and 99 <= summary.downtime_p99 <= 100
