"""Behaviour profiles: checked like flow files, then followed by the hosts they name while running."""

from __future__ import annotations

import json
import os
import random
import statistics
from pathlib import Path

import pytest

from opsflow.devcloud import profiles
from opsflow.devcloud.layout import Layout
from opsflow.errors import DefinitionError
from opsflow.plugins.nova.behaviour import PROFILE_FILE, Behaviour

PROFILE = """
name: a bad rack
groups:
  - hosts: sim-sou-00[1-3]
    latency:
      spawn: {median: 6, p99: 20}
      power: {fixed: 0.5}
      destroy: {uniform: [0.2, 1.0]}
    failures: {spawn: 0.25}
    disk_mib_per_second: 20
    heartbeat: {flap: {period: 120, down: 40}}
  - hosts: [sim-sou-009]
    heartbeat: {stop: true}
"""


def _applied(tmp_path: Path, text: str = PROFILE) -> Behaviour:
    (tmp_path / PROFILE_FILE).write_text(json.dumps(profiles.load_text(text)))
    return Behaviour(tmp_path, random.Random(1))


def test_latencies_follow_their_distribution_for_the_hosts_of_the_group(tmp_path: Path) -> None:
    """Lognormal spawns have the profile's median; fixed and uniform as written; other hosts untouched."""
    behaviour = _applied(tmp_path)
    spawns = [behaviour.latency("sim-sou-002", "spawn", 3.0) or 0 for _ in range(4000)]
    assert 5.5 < statistics.median(spawns) < 6.5
    assert 15 < sorted(spawns)[int(0.99 * len(spawns))] < 26
    assert behaviour.latency("sim-sou-001", "power", 1.0) == 0.5
    assert all(0.2 <= (behaviour.latency("sim-sou-003", "destroy", 0.5) or 0) <= 1.0 for _ in range(100))
    assert behaviour.latency("sim-sou-004", "spawn", 3.0) is None
    assert behaviour.latency("sim-sou-001", "reboot", 2.0) is None


def test_failures_happen_at_the_configured_rate_and_say_why(tmp_path: Path) -> None:
    """A quarter of the group's spawns fail with a reason naming the profile; none elsewhere."""
    behaviour = _applied(tmp_path)
    reasons = [behaviour.failure("sim-sou-001", "spawn") for _ in range(4000)]
    assert 0.22 < sum(bool(r) for r in reasons) / len(reasons) < 0.28
    assert "behaviour profile" in next(r for r in reasons if r)
    assert not any(behaviour.failure("sim-sou-004", "spawn") for _ in range(200))


def test_heartbeats_flap_or_stop_and_a_slow_disk_takes_size_over_rate(tmp_path: Path) -> None:
    """Down for the first 40 s of every 120 s; a stopped host never reports; 20 MiB at 20 MiB/s is 1 s."""
    behaviour = _applied(tmp_path)
    assert behaviour.silent("sim-sou-001", 1200.0 + 39) and not behaviour.silent("sim-sou-001", 1200.0 + 41)
    assert behaviour.silent("sim-sou-009", 0.0) and behaviour.silent("sim-sou-009", 61.0)
    assert not behaviour.silent("sim-sou-004", 0.0)
    assert behaviour.disk_seconds("sim-sou-001", 20 << 20) == pytest.approx(1.0)


def test_a_changed_profile_applies_while_running_and_clear_restores_the_defaults(tmp_path: Path) -> None:
    """The hosts re-read the file when it changes: no restart; apply and clear reach every region."""
    layout = Layout(home=tmp_path, port_base=19000)
    profiles.apply(layout, profiles.load_text(PROFILE))
    region = layout.region("source")
    behaviour = Behaviour(region.disk_dir)
    assert behaviour.latency("sim-sou-001", "power", 1.0) == 0.5
    faster = PROFILE.replace("power: {fixed: 0.5}", "power: {fixed: 0.1}")
    profiles.apply(layout, profiles.load_text(faster))
    os.utime(region.disk_dir / PROFILE_FILE, ns=(1, 1))  # a different stamp even within one clock tick
    assert behaviour.latency("sim-sou-001", "power", 1.0) == 0.1
    profiles.clear(layout)
    assert behaviour.latency("sim-sou-001", "power", 1.0) is None


@pytest.mark.parametrize(("text", "where", "says"), [
    ("groups:\n  - hosts: a\n    latency: {boot: {fixed: 1}}\n", ":3:", "not an operation the simulator has"),
    ("groups:\n  - hosts: a\n    latency: {spawn: {fixed: 1, median: 2}}\n", ":3:", "{fixed: S}"),
    ("groups:\n  - hosts: a\n    latency: {spawn: {median: 5, p99: 2}}\n", ":3:", "p99 is below the median"),
    ("groups:\n  - hosts: a\n    failures: {spawn: 2}\n", ":3:", "maximum of 1"),
    ("groups:\n  - hosts: a\n    heartbeat: {flap: {period: 10, down: 10}}\n", ":3:", "use {stop: true}"),
    ("groups:\n  - hosts: a\n    heartbeat: {stop: true, flap: {period: 10, down: 1}}\n", ":3:", "not both"),
    ("groups:\n  - host: a\n", ":2:", "allowed keys"),
    ("groups: [\n", ":2:", "malformed YAML"),
])
def test_a_bad_profile_is_refused_with_its_line_and_the_fix(text: str, where: str, says: str) -> None:
    """Every mistake names the file, line and column, and what to write instead."""
    with pytest.raises(DefinitionError) as caught:
        profiles.load_text(text, "rack.yaml")
    assert str(caught.value).startswith("rack.yaml" + where), str(caught.value)
    assert says in str(caught.value)


def test_a_missing_profile_file_is_one_line_naming_it(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="nope.yaml: no such file; check the path"):
        profiles.load_file(tmp_path / "nope.yaml")
