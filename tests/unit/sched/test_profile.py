"""Traffic profiles: the examples load, and every mistake is reported at its file, line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsflow.errors import DefinitionError
from opsflow.sched import profile
from opsflow.sched.profile import Burst, Diurnal, PolicyName, Poisson

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "sched"

GOOD = """\
name: tiny
duration: 60
hosts:
  - {count: 4, vcpus: 4, ram_mb: 8192, disk_gb: 100}
flavors:
  small: {vcpus: 1, ram_mb: 1024, disk_gb: 10}
traffic:
  - burst: {at: 1, count: 10, flavors: {small: 1}}
"""


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_examples_load(path: Path) -> None:
    """Every example profile under examples/sched/ is valid."""
    assert profile.load_file(path).host_count > 0


def test_defaults_are_novas() -> None:
    """Unset scheduler options take nova's defaults and every policy is compared."""
    prof = profile.load_text(GOOD)
    assert prof.scheduler.max_placement_results == 1000
    assert prof.scheduler.host_subset_size == 1
    assert prof.scheduler.shuffle_best_same_weighed_hosts is False
    assert prof.policies == tuple(PolicyName)
    assert prof.ratios.vcpu == 4.0


def test_every_stream_kind() -> None:
    """Poisson, burst and diurnal streams each become their own kind."""
    text = GOOD + """\
  - poisson: {rate: 0.5, flavors: {small: 1}, start: 5, end: 50}
  - diurnal: {rate: 1, amplitude: 0.3, period: 60, flavors: {small: 2}}
"""
    kinds = [type(s) for s in profile.load_text(text).traffic]
    assert kinds == [Burst, Poisson, Diurnal]


@pytest.mark.parametrize(("text", "line", "column", "words"), [
    (GOOD.replace("duration: 60", "duraton: 60"), 2, 10, "'duraton' was unexpected"),
    (GOOD.replace("duration: 60\n", ""), 1, 1, "'duration' is a required property; add it"),
    (GOOD.replace("traffic:", "traffic:\n  - burst: {at: 1, count: 1, flavors: {small: 1}, size: 3}"), 8, 57,
     "allowed keys: at, count, flavors, over"),
    (GOOD.replace("count: 4", "count: 0"), 4, 13, "less than the minimum"),
    (GOOD.replace("{small: 1}}", "{large: 1}}"), 8, 48, "unknown flavor 'large'"),
    (GOOD.replace("burst:", "bursts:"), 8, 5, "unknown traffic kind 'bursts'"),
    (GOOD.replace("at: 1,", "at: 90,"), 8, 17, "after the profile's duration"),
    (GOOD + "scheduler: {workers: two}\n", 9, 22, "'two' is not of type 'integer'"),
    (GOOD + "policies: [nova, magic]\n", 9, 18, "'magic' is not one of"),
    (GOOD + "scheduler: {host_subset_size: 2000}\n", 9, 31, "larger than max_placement_results"),
    (GOOD.replace("name: tiny", "name: [tiny"), 2, 9, "malformed YAML"),
])
def test_mistakes_point_at_their_place(text: str, line: int, column: int, words: str) -> None:
    """A bad profile raises DefinitionError naming file:line:col and what to change."""
    with pytest.raises(DefinitionError) as caught:
        profile.load_text(text, "bad.yaml")
    assert (caught.value.line, caught.value.column) == (line, column), str(caught.value)
    assert str(caught.value).startswith(f"bad.yaml:{line}:{column}: ")
    assert words in str(caught.value)


def test_missing_file_names_it(tmp_path: Path) -> None:
    """A profile that cannot be read is reported with its path."""
    with pytest.raises(DefinitionError, match="nope.yaml: no such file; check the path"):
        profile.load_file(tmp_path / "nope.yaml")
