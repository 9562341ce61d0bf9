"""What a run is judged by: imbalance, herding, conflicts, cost, utilisation before rejection.

Imbalance is measured twice. Over the whole fleet at the end of a run: the allocated vCPU share
per host, as max/mean and coefficient of variation. Over each burst: the number of the burst's
VMs per host (every host counts, including those that got none), as max/mean, and *herding*, the
share of the burst that landed on its busiest host. Both are what an operator sees: a hypervisor
that took ten VMs of one PaaS provisioning in the same second.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from opsflow.sched.engine import RunResult

__all__ = ["Spread", "Summary", "spread", "summarize"]


@dataclass(frozen=True)
class Spread:
    """How evenly some quantity is spread over hosts."""

    #: Largest over mean (1.0 is perfectly even).
    max_over_mean: float
    #: Standard deviation over mean.
    cv: float


def spread(values: Sequence[float]) -> Spread:
    """max/mean and coefficient of variation of ``values`` (all hosts, zeros included)."""
    mean = statistics.fmean(values) if values else 0.0
    if mean == 0:
        return Spread(0.0, 0.0)
    return Spread(max(values) / mean, statistics.pstdev(values) / mean)


@dataclass(frozen=True)
class Summary:
    """One run, in numbers."""

    policy: str
    requests: int
    placed: int
    rejected: int
    fleet: Spread
    #: Mean over bursts of the per-burst spread of VMs over hosts.
    burst: Spread
    #: Mean over bursts of the share of the burst on its busiest host.
    herding: float
    #: Hosts that received at least one VM of the first burst.
    burst_hosts: int
    conflicts: int
    retries: int
    mean_evaluations: float
    #: Mean wall-clock microseconds of the policy's own decision code per placed request (this machine).
    mean_cpu_us: float
    #: Mean and 99th-percentile seconds from arrival to claim, in simulated time.
    mean_latency: float
    p99_latency: float
    utilisation_at_first_rejection: float | None
    final_utilisation: float
    over_committed: int


def burst_counts(result: RunResult) -> dict[int, list[int]]:
    """Per burst, how many of its VMs each host got (a list over all hosts)."""
    per: dict[int, Counter[int]] = {}
    for outcome in result.outcomes:
        if outcome.request.burst is not None and outcome.host is not None:
            per.setdefault(outcome.request.burst, Counter())[outcome.host] += 1
    return {b: [c.get(h, 0) for h in range(result.hosts)] for b, c in sorted(per.items())}


def summarize(result: RunResult) -> Summary:
    """The numbers of one run."""
    outcomes = result.outcomes
    placed = [o for o in outcomes if o.host is not None]
    bursts = burst_counts(result)
    burst_spreads = [spread(counts) for counts in bursts.values()]
    herding = [max(counts) / sum(counts) for counts in bursts.values() if sum(counts)]
    latencies = sorted(o.latency for o in outcomes) or [0.0]
    first = next(iter(bursts.values()), [])
    return Summary(
        policy=result.policy.value,
        requests=len(outcomes),
        placed=len(placed),
        rejected=len(outcomes) - len(placed),
        fleet=spread(result.shares),
        burst=Spread(statistics.fmean(s.max_over_mean for s in burst_spreads) if burst_spreads else 0.0,
                     statistics.fmean(s.cv for s in burst_spreads) if burst_spreads else 0.0),
        herding=statistics.fmean(herding) if herding else 0.0,
        burst_hosts=sum(1 for c in first if c),
        conflicts=sum(o.conflicts for o in outcomes),
        retries=sum(o.retries for o in outcomes),
        mean_evaluations=statistics.fmean(o.evaluations for o in outcomes) if outcomes else 0.0,
        mean_cpu_us=statistics.fmean(o.cpu_ns for o in placed) / 1000 if placed else 0.0,
        mean_latency=statistics.fmean(latencies),
        p99_latency=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        utilisation_at_first_rejection=result.utilisation_at_first_rejection,
        final_utilisation=result.final_utilisation,
        over_committed=len(result.over_committed),
    )
