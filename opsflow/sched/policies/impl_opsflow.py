"""opsflow's runtime-aware policy: sample, count what every worker just placed, bind with a cas.

Nova's herding has three causes: each worker sees only its own placements until the computes
report, concurrent requests in one worker weigh the same snapshot, and a full scan ranks the same
few hosts first for everyone. This policy answers each:

* it scores a random sample of ``sample_size`` candidates (cost independent of the fleet's size);
* a host's score counts the vCPUs placed on it in the last ``recent_seconds`` by *any* worker (the
  shared ledger) on top of the cached usage, and adds the host's measured load;
* before claiming, it writes its pick to the ledger with a compare-and-swap; if another worker
  picked the same host since it read the ledger, it scores again with the fresh counts.
"""

from __future__ import annotations

import random

from opsflow.sched.fleet import Fleet
from opsflow.sched.hoststate import HostStateCache
from opsflow.sched.ledger import Ledger
from opsflow.sched.policies.base import Decision, Policy, Request
from opsflow.sched.profile import PolicyName, SchedulerSettings

__all__ = ["RuntimeAware", "score"]

#: How much a fully busy host (measured load 1.0) weighs against a fully allocated one.
LOAD_WEIGHT = 0.5
#: Re-scorings after a lost compare-and-swap before claiming the best host regardless.
CAS_ROUNDS = 3


def score(used_share: float, load: float) -> float:
    """Lower is better: allocated share (cached + recent, worst resource) plus weighted load."""
    return used_share + LOAD_WEIGHT * load


class RuntimeAware(Policy):
    """Sampled, shared-state-aware ranking with an optimistic reservation."""

    name = PolicyName.OPSFLOW
    randomized_candidates = True

    def __init__(self, fleet: Fleet, settings: SchedulerSettings, rng: random.Random) -> None:
        super().__init__(fleet, settings, rng)
        self.ledger = Ledger(fleet.size, settings.recent_seconds)
        #: Compare-and-swaps lost to another worker (each followed by a re-scoring).
        self.cas_lost = 0
        self._caches: dict[int, HostStateCache] = {}
        self._read: dict[int, dict[int, int]] = {}

    def _scores(self, request: Request, hosts: list[int], cache: HostStateCache, now: float) -> list[int]:
        fleet, flavor = self.fleet, request.flavor
        ranked = []
        for host in hosts:
            state = cache.get(host)
            recent = self.ledger.recent(host, now)
            share = max((state.vcpus_used + recent + flavor.vcpus) / fleet.cap_vcpus[host],
                        (state.ram_used + flavor.ram_mb) / fleet.cap_ram[host])
            ranked.append((score(share, state.load), host))
        ranked.sort()
        return [host for _, host in ranked]

    def decide(self, request: Request, candidates: list[int], cache: HostStateCache, now: float) -> Decision:
        sample = self.rng.sample(candidates, min(self.settings.sample_size, len(candidates)))
        if not sample:
            return Decision((), 0)
        self._caches[request.id] = cache
        self._read[request.id] = {h: self.ledger.version(h) for h in sample}
        ranked = self._scores(request, sample, cache, now)
        return Decision(tuple(ranked), len(sample), delay=self.ledger.rtt_seconds)

    def bind(self, request: Request, decision: Decision, now: float) -> tuple[int, ...]:
        if not decision.hosts:
            return ()
        read = self._read.pop(request.id)
        cache = self._caches.pop(request.id)
        ranked = list(decision.hosts)
        for _ in range(CAS_ROUNDS):
            best = ranked[0]
            if self.ledger.add(best, request.flavor.vcpus, now, read[best]):
                return tuple(ranked)
            self.cas_lost += 1
            read = {h: self.ledger.version(h) for h in ranked}
            ranked = self._scores(request, ranked, cache, now)
        self.ledger.add(ranked[0], request.flavor.vcpus, now, self.ledger.version(ranked[0]))
        return tuple(ranked)
