"""A ramp step judged: its measures against the SLO, and the resource that gave out first.

The bottleneck is named from the evidence of the breaching step, most specific first: a service
process using a whole core (a Python service is one core at most: nova-conductor, the compute
process, an API's worker); the machine's CPUs all busy; a broker queue holding messages nobody
takes; else no resource stands out and the breached measure itself is named.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from opsflow.stats import percentile
from opsflow.simulate.load import Boot
from opsflow.simulate.probes import Sample, rates
from opsflow.simulate.profile import SLO_KEYS

__all__ = ["Measures", "Verdict", "bottleneck", "judge", "measure"]

#: A service whose process used this share of one core over a step is saturated.
CORE_SATURATED = 0.85
#: Messages waiting in one queue at the end of a step that mean its consumers fall behind.
QUEUE_BACKLOG = 100


@dataclass(frozen=True)
class Measures:
    """What one step measured."""

    hypervisors: int
    boots: int
    api_p50_ms: float | None
    api_p99_ms: float | None
    boot_p50_s: float | None
    boot_p99_s: float | None
    scheduling_p50_s: float | None
    scheduling_p99_s: float | None
    boot_failure_ratio: float
    hosts_used: int
    queue_depth: int
    deepest_queue: str
    broker_connections: int
    broker_frames_per_s: float
    db_connections: int
    db_questions_per_s: float
    #: Share of one core each service process used over the step, and its RSS at the end (MB).
    cpu: dict[str, float]
    rss_mb: dict[str, float]
    load_average: float

    def to_json(self) -> dict[str, Any]:
        """For the step's record and the report."""
        return asdict(self)


@dataclass(frozen=True)
class Verdict:
    """The step's measures, what they breached and, if anything, the first bottleneck."""

    index: int
    measures: dict[str, Any]
    breaches: list[str]
    bottleneck: str

    def to_json(self) -> dict[str, Any]:
        """The step record the next steps and the report read."""
        return asdict(self)


def measure(hypervisors: int, boots: Sequence[Boot], first: Sample, last: Sample) -> Measures:
    """Summarise one step's boots and its two control-plane samples."""
    calls = sorted(ms for boot in boots for ms in boot.calls_ms)
    active = sorted(b.active_s for b in boots if b.active_s is not None)
    scheduled = sorted(b.scheduled_s for b in boots if b.scheduled_s is not None)
    per_second = rates(first, last)
    return Measures(
        hypervisors=hypervisors, boots=len(boots),
        api_p50_ms=percentile(calls, 0.5), api_p99_ms=percentile(calls, 0.99),
        boot_p50_s=percentile(active, 0.5), boot_p99_s=percentile(active, 0.99),
        scheduling_p50_s=percentile(scheduled, 0.5), scheduling_p99_s=percentile(scheduled, 0.99),
        boot_failure_ratio=sum(b.outcome != "ACTIVE" for b in boots) / len(boots) if boots else 0.0,
        hosts_used=len({b.host for b in boots if b.host}),
        queue_depth=last.deepest_queue[1], deepest_queue=last.deepest_queue[0],
        broker_connections=last.connections, broker_frames_per_s=max(0.0, per_second["broker_frames_per_s"]),
        db_connections=last.db_connections, db_questions_per_s=per_second["db_questions_per_s"],
        cpu={k.removeprefix("cpu:"): v for k, v in per_second.items() if k.startswith("cpu:")},
        rss_mb={name: use.rss_mb for name, use in last.processes.items()},
        load_average=os.getloadavg()[0])


def _breaches(measures: Measures, slo: Mapping[str, float]) -> list[str]:
    out = []
    for key, bound in slo.items():
        value = getattr(measures, key)
        if value is None:  # nothing became ACTIVE: every time-to-ACTIVE bound is breached
            out.append(f"{key}: nothing to measure (no server got that far) > {bound:g}")
        elif value > bound:
            out.append(f"{key}: {value:.3g} > {bound:g} ({SLO_KEYS[key]})")
    return out


def bottleneck(measures: Measures, cores: int | None = None) -> str:
    """The resource that gave out first, with its evidence, in one sentence."""
    cores = cores or os.cpu_count() or 1
    if measures.cpu:
        busiest, share = max(measures.cpu.items(), key=lambda item: item[1])
        if share >= CORE_SATURATED:
            return (f"{busiest} is CPU-bound: it used {share:.2f} of a core over the step, and one Python "
                    f"process cannot use more (at {measures.hypervisors} hypervisors)")
    if measures.load_average >= cores:
        top = sorted(measures.cpu.items(), key=lambda item: -item[1])[:3]
        users = ", ".join(f"{name} {share:.2f}" for name, share in top)
        return (f"the machine's {cores} CPUs: load average {measures.load_average:.1f} at "
                f"{measures.hypervisors} hypervisors, of which the cloud's own processes used "
                f"{sum(measures.cpu.values()):.2f} cores (busiest: {users}); the rest is other work on the machine")
    if measures.queue_depth >= QUEUE_BACKLOG:
        return (f"the broker's consumers fall behind: {measures.deepest_queue} holds {measures.queue_depth} "
                f"messages at {measures.hypervisors} hypervisors")
    return ("no resource saturated; the API itself answered too slowly "
            f"(p99 {measures.api_p99_ms or 0:.0f} ms, busiest process "
            f"{max(measures.cpu.items(), key=lambda item: item[1])[0] if measures.cpu else 'none'})")


def judge(index: int, measures: Measures, slo: Mapping[str, float]) -> Verdict:
    """The step's verdict: breaches of ``slo`` and, when there are any, the bottleneck."""
    breaches = _breaches(measures, slo)
    return Verdict(index, measures.to_json(), breaches, bottleneck(measures) if breaches else "")
