"""Decision cost per request as the fleet grows, measured on the model's own code.

For each fleet size the hosts of the profile's first group are loaded to a random 0-60 % of their
vCPUs; then each policy ranks a series of requests. Reported per request: host states built,
host evaluations (hosts × filters and weighers), the wall-clock time of the policy's ranking code
on this machine, and the modelled seconds of Placement's candidates query (which grows with the
providers whatever the policy). Nova is shown twice: with its default ``max_placement_results``
(1000, so it never looks past the first thousand providers) and with the limit raised to the fleet
size, the full scan an operator gets by raising it to reach every host.
"""

from __future__ import annotations

import dataclasses
import random
import time
from dataclasses import dataclass

from opsflow.sched import policies
from opsflow.sched.engine import Timings
from opsflow.sched.fleet import Fleet
from opsflow.sched.hoststate import HostStateCache
from opsflow.sched.policies.base import Request
from opsflow.sched.profile import PolicyName, Profile

__all__ = ["CostPoint", "sweep"]


@dataclass(frozen=True)
class CostPoint:
    """One policy at one fleet size."""

    policy: str
    hosts: int
    states: float
    evaluations: float
    #: Mean wall-clock microseconds of the ranking code per request.
    decide_us: float
    #: Modelled seconds of scheduler work: states and evaluations (filters, weighers).
    model_seconds: float
    #: Modelled seconds of Placement's candidates query.
    placement_seconds: float


def _fleet(profile: Profile, hosts: int, rng: random.Random) -> Fleet:
    group = dataclasses.replace(profile.hosts[0], count=hosts)
    fleet = Fleet(dataclasses.replace(profile, hosts=(group,)), rng)
    for host in range(hosts):
        fleet.used_vcpus[host] = int(fleet.cap_vcpus[host] * rng.uniform(0, 0.6))
        fleet.report(host, 0.0)
    return fleet


def _measure(label: str, name: PolicyName, profile: Profile, fleet: Fleet, limit: int, requests: int,
             timings: Timings) -> CostPoint:
    settings = dataclasses.replace(profile.scheduler, max_placement_results=limit)
    rng = random.Random(profile.seed)
    policy = policies.make(name, fleet, settings, rng)
    cache = HostStateCache(fleet)
    for host in range(fleet.size):  # a running scheduler has every host's state cached already
        cache.get(host)
    flavor = next(iter(profile.flavors.values()))
    states = evaluations = 0
    elapsed = 0
    for i in range(requests):
        candidates = fleet.candidates(flavor, limit, rng if policy.randomized_candidates else None)
        request = Request(i, flavor, float(i))
        started = time.thread_time_ns()
        decision = policy.decide(request, candidates, cache, float(i))
        policy.bind(request, decision, float(i))
        elapsed += time.thread_time_ns() - started
        policy.settle(request, decision, None, float(i))
        states += len(candidates)
        evaluations += decision.evaluations
    n = float(requests)
    return CostPoint(label, fleet.size, states / n, evaluations / n, elapsed / n / 1000,
                     (states * timings.state + evaluations * timings.evaluation) / n,
                     timings.candidates_query(fleet.size, min(limit, fleet.size)))


def sweep(profile: Profile, sizes: tuple[int, ...] | None = None, timings: Timings | None = None,
          budget: int = 2_000_000) -> list[CostPoint]:
    """Cost points for nova (default limit and full scan) and opsflow at each fleet size.

    ``budget`` bounds the host states built per series, so the 100,000-host full scan stays short.
    """
    timings = timings or Timings()
    out: list[CostPoint] = []
    default_limit = profile.scheduler.max_placement_results
    for hosts in sizes or profile.cost_hosts:
        fleet = _fleet(profile, hosts, random.Random(profile.seed))
        series = [("nova", PolicyName.NOVA, default_limit),
                  ("nova-full-scan", PolicyName.NOVA, hosts),
                  ("opsflow", PolicyName.OPSFLOW, default_limit)]
        for label, name, limit in series:
            requests = max(5, min(200, budget // max(1, min(limit, hosts))))
            out.append(_measure(label, name, profile, fleet, limit, requests, timings))
    return out
