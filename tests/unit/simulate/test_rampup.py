"""Ramp profiles are checked like flow files; a step's verdict names its breaches and its bottleneck;
the report says where the ramp stopped and why."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from opsflow.errors import DefinitionError
from opsflow.simulate import profile, report, verdict
from opsflow.simulate.load import Boot
from opsflow.simulate.probes import ProcessUse, Sample

PROFILE = """\
name: to 1000
steps:
  - {hypervisors: 100, boots_per_minute: 30, seconds: 60}
  - {hypervisors: 1000, boots_per_minute: 30, seconds: 60}
slo: {api_p99_ms: 500, boot_p99_s: 60}
"""


def test_a_profile_loads_with_the_simulated_clouds_defaults() -> None:
    ramp = profile.load_text(PROFILE)
    assert [s.hypervisors for s in ramp.steps] == [100, 1000]
    assert ramp.region == "source" and ramp.other_region_hypervisors == 2 and ramp.cloud == ""
    assert ramp.servers == profile.Servers("m1.tiny", "cirros-sim", "devcloud-net")
    assert profile.RampProfile.from_json(ramp.to_json()) == ramp


def test_what_a_profile_leaves_out_is_the_dataclasses_default() -> None:
    """A key left out (or a part of ``servers``) takes the dataclass's default; one given replaces only itself."""
    ramp = profile.load_text(PROFILE.replace("name: to 1000\n", "servers: {image: other}\n"))
    assert ramp == profile.RampProfile(steps=ramp.steps, slo=ramp.slo, servers=profile.Servers(image="other"))
    given = profile.load_text(PROFILE + "cloud: admin\nregion: destination\nother_region_hypervisors: 5\n"
                              "description: for the reader\n")
    assert (given.name, given.cloud, given.region, given.other_region_hypervisors, given.servers) == (
        "to 1000", "admin", "destination", 5, profile.Servers())


@pytest.mark.parametrize("text, where, says", [
    (PROFILE.replace("api_p99_ms", "api_p95_ms"), "5:6", "allowed keys: api_p99_ms, boot_failure_ratio"),
    (PROFILE.replace("slo: {api_p99_ms: 500, boot_p99_s: 60}", "slo: {}"), "5:6", "at least one bound"),
    (PROFILE.replace("hypervisors: 1000", "hypervisors: 10"), "4:19", "a ramp only grows: step 1 has fewer"),
    (PROFILE.replace("seconds: 60}\nslo", "seconds: 0}\nslo"), "4:56", "steps[1].seconds: 0 is less than"),
    (PROFILE.replace("name: to 1000", "nmae: to 1000"), "1:1", "('nmae' was unexpected); allowed keys: cloud"),
])
def test_a_bad_profile_is_refused_at_its_line_and_column_with_the_fix(text: str, where: str, says: str) -> None:
    with pytest.raises(DefinitionError) as refused:
        profile.load_text(text, "ramp.yaml")
    assert str(refused.value).startswith(f"ramp.yaml:{where}:") and says in str(refused.value)


def test_a_profile_that_cannot_be_read_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="nope.yaml: no such file; check the path"):
        profile.load_file(tmp_path / "nope.yaml")


def _sample(at: float, frames: int, cpu: dict[str, float]) -> Sample:
    return Sample(at=at, deepest_queue=("devcloud-source/conductor", 3), queued=3, queues=9, connections=20,
                  frames_in=frames, db_connections=30, db_questions=1000 + int(at),
                  processes={name: ProcessUse(seconds, 100.0) for name, seconds in cpu.items()})


def _measures(**changes: Any) -> verdict.Measures:
    boots = [Boot(f"b{i}", "ACTIVE", 1.0 + i, 5.0 + i, f"h{i % 3}", [10.0 * (i + 1)]) for i in range(10)]
    boots.append(Boot("b10", "ERROR", 2.0, None, "h0", [20.0], "spawn failed"))
    first = _sample(0.0, 1000, {"source-nova-control": 1.0, "keystone": 5.0})
    last = _sample(10.0, 3000, {"source-nova-control": 4.0, "keystone": 9.5})
    return dataclasses.replace(verdict.measure(100, boots, first, last), **({"load_average": 0.5} | changes))


def test_a_step_is_measured_from_its_boots_and_two_samples() -> None:
    m = _measures()
    assert m.boots == 11 and m.hosts_used == 3 and m.boot_failure_ratio == pytest.approx(1 / 11)
    assert m.api_p50_ms == 50.0 and m.boot_p50_s == pytest.approx(9.5) and m.scheduling_p50_s == pytest.approx(5.0)
    assert m.broker_frames_per_s == 200.0 and m.db_questions_per_s == 1.0
    assert m.cpu == {"source-nova-control": 0.3, "keystone": 0.45}


def test_a_step_within_the_slo_has_no_breach_and_no_bottleneck() -> None:
    said = verdict.judge(0, _measures(), {"api_p99_ms": 500, "boot_p99_s": 60})
    assert said.breaches == [] and said.bottleneck == ""


def test_a_breach_names_the_bound_the_value_and_a_saturated_service() -> None:
    said = verdict.judge(2, _measures(cpu={"source-nova-control": 0.97, "keystone": 0.4}),
                         {"api_p99_ms": 50, "boot_failure_ratio": 0.01})
    assert said.breaches == ["api_p99_ms: 99 > 50 (p99 latency of the API calls (ms))",
                             "boot_failure_ratio: 0.0909 > 0.01 (share of servers that went to ERROR or never "
                             "became ACTIVE)"]
    assert said.bottleneck.startswith("source-nova-control is CPU-bound: it used 0.97 of a core")


def test_without_a_saturated_service_the_bottleneck_is_the_busy_machine_then_the_broker() -> None:
    busy = verdict.bottleneck(_measures(load_average=3.0), cores=2)
    assert busy.startswith("the machine's 2 CPUs: load average 3.0") and "used 0.75 cores" in busy
    backlog = verdict.bottleneck(_measures(queue_depth=400, deepest_queue="devcloud-source/scheduler"), cores=2)
    assert backlog.startswith("the broker's consumers fall behind: devcloud-source/scheduler holds 400")


def test_nothing_active_breaches_every_time_to_active_bound() -> None:
    said = verdict.judge(0, _measures(boot_p99_s=None), {"boot_p99_s": 60})
    assert said.breaches == ["boot_p99_s: nothing to measure (no server got that far) > 60"]


def test_the_report_says_where_the_ramp_stopped_why_and_plots_every_step(tmp_path: Path) -> None:
    ramp = profile.load_text(PROFILE)
    held = verdict.judge(0, _measures(), ramp.slo).to_json()
    broke = verdict.judge(1, _measures(hypervisors=1000, api_p99_ms=900.0), ramp.slo).to_json()
    text = report.write(tmp_path, ramp, [held, broke]).read_text()
    assert "**Stopped at step 1** (1000 hypervisors): the SLO was breached." in text
    assert "- api_p99_ms: 900 > 500" in text and "**First bottleneck:**" in text
    assert "| 0 | 100 | 11 |" in text and "| 1 | 1000 | 11 |" in text
    assert all((tmp_path / f"{name}.png").stat().st_size > 0 for name in ("latency", "broker", "cpu"))
