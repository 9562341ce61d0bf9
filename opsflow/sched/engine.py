"""Run one policy over one profile as a discrete-event simulation (simpy).

Requests arrive at the scheduler workers round-robin (RabbitMQ's way with competing consumers).
Each worker handles ``threads`` requests at once but has one CPU for filtering and weighing (one
interpreter, one GIL). A request's life, as in nova:

1. ``GET /allocation_candidates`` (modelled latency, see :class:`Timings`);
2. the policy ranks the candidates from the worker's host-state cache (cost: host states built
   and host evaluations, on the worker's CPU);
3. claims down the ranking: each ``PUT /allocations`` may conflict; a concurrent update is
   retried after ``uniform(0, 2 × retry)`` seconds up to four tries (nova's ``@retries``), a host
   without capacity passes to the next one;
4. the build reaches the compute, which writes its record; the VM runs after ``boot_seconds``,
   and is deleted after an exponential lifetime if the profile sets one.

Every compute also writes its record every ``refresh_seconds`` (the resource tracker's periodic
task), staggered across hosts.
"""

from __future__ import annotations

import random
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import simpy

from opsflow.sched import policies, traffic
from opsflow.sched.fleet import ClaimResult, Fleet
from opsflow.sched.hoststate import HostStateCache
from opsflow.sched.policies.base import Policy, Request
from opsflow.sched.profile import PolicyName, Profile

__all__ = ["Outcome", "RunResult", "Timings", "run"]


@dataclass(frozen=True)
class Timings:
    """Modelled latencies, in seconds; placement's are fitted to shared/TESTBED.md (0.27-0.45 s
    for candidates over 1000 providers, 0.17 s with a limit of 50)."""

    placement_base: float = 0.02
    placement_per_provider: float = 0.00014
    placement_per_result: float = 0.0002
    #: Building one host state from its compute record.
    state: float = 20e-6
    #: One filter or weigher on one host.
    evaluation: float = 2e-6
    #: One ``PUT /allocations``.
    claim: float = 0.03
    #: From a successful claim to the build reaching the compute (conductor, RPC).
    to_compute: float = 0.5

    def candidates_query(self, providers: int, results: int) -> float:
        """Seconds Placement takes to answer ``GET /allocation_candidates``."""
        return (self.placement_base + self.placement_per_provider * providers
                + self.placement_per_result * results)


@dataclass(frozen=True)
class Outcome:
    """What happened to one request."""

    request: Request
    #: Where it landed, ``None`` when rejected (NoValidHost).
    host: int | None
    #: Seconds from arrival to a successful (or final failed) claim.
    latency: float
    #: Host evaluations its decision took.
    evaluations: int
    #: Wall-clock nanoseconds the policy's own code took for this decision (this machine).
    cpu_ns: int
    #: Claims Placement refused (409s), and re-tries of the same host after a concurrent update.
    conflicts: int
    retries: int


@dataclass(frozen=True)
class RunResult:
    """One policy's run over one profile."""

    policy: PolicyName
    outcomes: tuple[Outcome, ...]
    #: Allocated vCPU share of every host at the end.
    shares: tuple[float, ...]
    #: Share of the fleet's vCPU capacity allocated when the first request was rejected (``None``:
    #: nothing was rejected).
    utilisation_at_first_rejection: float | None
    #: Hosts allocated beyond capacity × ratio at any check (an invariant: always empty).
    over_committed: tuple[int, ...]
    final_utilisation: float
    hosts: int


class _Worker:
    def __init__(self, env: simpy.Environment, fleet: Fleet, threads: int) -> None:
        self.threads = simpy.Resource(env, capacity=threads)
        self.cpu = simpy.Resource(env, capacity=1)
        self.cache = HostStateCache(fleet)


class _Simulation:
    def __init__(self, profile: Profile, name: PolicyName, timings: Timings) -> None:
        self.profile, self.timings = profile, timings
        self.settings = profile.scheduler
        self.rng = random.Random(profile.seed)
        self.fleet = Fleet(profile, random.Random(profile.seed))
        self.env = simpy.Environment()
        self.policy: Policy = policies.make(name, self.fleet, self.settings, random.Random(profile.seed + 1))
        self.workers = [_Worker(self.env, self.fleet, self.settings.threads) for _ in range(self.settings.workers)]
        self.outcomes: list[Outcome] = []
        self.first_rejection: float | None = None
        self.over: set[int] = set()

    def arrivals(self, requests: list[Request]) -> Generator[Any, Any, None]:
        for request in requests:
            yield self.env.timeout(max(0.0, request.arrival - self.env.now))
            self.env.process(self.handle(request, self.workers[request.id % len(self.workers)]))

    def refresh(self) -> Generator[Any, Any, None]:
        period = max(1, int(self.settings.refresh_seconds))
        tick = 0
        while True:
            for host in range(tick % period, self.fleet.size, period):
                self.fleet.report(host, self.env.now)
            tick += 1
            yield self.env.timeout(1.0)

    def handle(self, request: Request, worker: _Worker) -> Generator[Any, Any, None]:
        env, fleet, policy, t = self.env, self.fleet, self.policy, self.timings
        with worker.threads.request() as slot:
            yield slot
            limit = self.settings.max_placement_results
            yield env.timeout(t.candidates_query(fleet.size, min(limit, fleet.size)))
            candidates = fleet.candidates(request.flavor, limit, self.rng if policy.randomized_candidates else None)
            started = time.thread_time_ns()
            decision = policy.decide(request, candidates, worker.cache, env.now)
            cpu_ns = time.thread_time_ns() - started
            with worker.cpu.request() as cpu:
                yield cpu
                yield env.timeout(len(candidates) * t.state + decision.evaluations * t.evaluation)
            if decision.delay:
                yield env.timeout(decision.delay)
            started = time.thread_time_ns()
            order = policy.bind(request, decision, env.now)
            cpu_ns += time.thread_time_ns() - started
            host, conflicts, retries = None, 0, 0
            for candidate in order:
                for attempt in range(4):
                    if attempt:
                        retries += 1
                        yield env.timeout(self.rng.uniform(0, 2 * attempt))
                    read = env.now
                    yield env.timeout(t.claim)
                    result = fleet.claim(candidate, request.flavor, read, env.now)
                    if result is ClaimResult.OK:
                        host = candidate
                        break
                    conflicts += 1
                    if result is ClaimResult.NO_CAPACITY:
                        break
                if host is not None:
                    break
            policy.settle(request, decision, host, env.now)
        if host is None:
            if self.first_rejection is None:
                self.first_rejection = fleet.utilisation()
        else:
            worker.cache.consume(host, request.flavor, env.now)
            self.over.update(fleet.over_committed() if request.id % 50 == 0 else ())
            env.process(self.build(host, request))
        self.outcomes.append(Outcome(request, host, env.now - request.arrival, decision.evaluations, cpu_ns,
                                     conflicts, retries))

    def build(self, host: int, request: Request) -> Generator[Any, Any, None]:
        yield self.env.timeout(self.timings.to_compute)
        self.fleet.build_started(host, self.env.now)
        yield self.env.timeout(self.settings.boot_seconds)
        self.fleet.build_finished(host, request.flavor)
        if self.settings.lifetime_seconds:
            yield self.env.timeout(self.rng.expovariate(1 / self.settings.lifetime_seconds))
            self.fleet.release(host, request.flavor)


def run(profile: Profile, name: PolicyName, timings: Timings | None = None) -> RunResult:
    """Simulate ``profile`` under policy ``name``; the same seed gives the same traffic for every policy."""
    sim = _Simulation(profile, name, timings or Timings())
    requests = traffic.requests(profile, random.Random(profile.seed + 2))
    sim.env.process(sim.arrivals(requests))
    sim.env.process(sim.refresh())
    sim.env.run(until=profile.duration)
    sim.over.update(sim.fleet.over_committed())
    outcomes = tuple(sorted(sim.outcomes, key=lambda o: o.request.id))
    return RunResult(name, outcomes, tuple(sim.fleet.vcpu_shares()), sim.first_rejection,
                     tuple(sorted(sim.over)), sim.fleet.utilisation(), sim.fleet.size)
