"""``opsflow sched simulate`` and the decision-cost sweep."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from opsflow.cli import main
from opsflow.sched import cost, profile

TINY = """\
name: tiny
seed: 2
duration: 30
hosts:
  - {count: 8, vcpus: 4, ram_mb: 8192, disk_gb: 100}
flavors:
  small: {vcpus: 1, ram_mb: 1024, disk_gb: 10}
traffic:
  - burst: {at: 1, count: 16, over: 1, flavors: {small: 1}}
policies: [nova, opsflow]
cost_hosts: [10, 100]
"""


def test_simulate_writes_markdown_with_plots(tmp_path: Path) -> None:
    """simulate prints one row per policy and writes a report whose plots exist beside it."""
    prof = tmp_path / "tiny.yaml"
    prof.write_text(TINY)
    out = tmp_path / "report" / "tiny.md"
    result = CliRunner().invoke(main, ["sched", "simulate", "--profile", str(prof), "-o", str(out),
                                       "-f", "json"])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "| nova |" in text and "| opsflow |" in text
    for png in ("tiny-burst.png", "tiny-balance.png", "tiny-cost.png"):
        assert f"]({png})" in text
        assert (out.parent / png).stat().st_size > 1000


def test_bad_profile_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """A profile with a mistake ends the command with its file:line:col on stderr and exit code 2."""
    prof = tmp_path / "bad.yaml"
    prof.write_text(TINY.replace("count: 16", "count: -1"))
    result = CliRunner().invoke(main, ["sched", "simulate", "--profile", str(prof)])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert f"{prof}:9:27: traffic[0].burst.count" in result.output


def test_opsflow_cost_stays_flat_as_the_fleet_grows() -> None:
    """opsflow evaluates the same number of hosts at 1,000 and 10,000; nova's full scan grows tenfold."""
    points = cost.sweep(profile.load_text(TINY), (1000, 10000), budget=20_000)
    by = {(p.policy, p.hosts): p for p in points}
    assert by["opsflow", 10000].evaluations == by["opsflow", 1000].evaluations
    assert by["opsflow", 10000].model_seconds <= 2 * by["opsflow", 1000].model_seconds
    assert by["nova-full-scan", 10000].evaluations == 10 * by["nova-full-scan", 1000].evaluations
