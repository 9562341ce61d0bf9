"""Sparrow-style sampling with late binding (Ousterhout et al., SOSP 2013), for VMs.

The scheduler sends a probe (a reservation) to ``PROBES`` random candidates instead of choosing
at once; each host answers when it reaches the reservation in its queue, i.e. later the more builds
and reservations it already holds. The request binds to the first host that answers, using that
host's true state rather than a cached one. Reservations are visible to every worker because they
sit on the hosts themselves.
"""

from __future__ import annotations

import random

from opsflow.sched.fleet import Fleet
from opsflow.sched.hoststate import HostStateCache
from opsflow.sched.policies.base import Decision, Policy, Request
from opsflow.sched.profile import PolicyName, SchedulerSettings

__all__ = ["Sparrow"]

#: Probes per request (Sparrow's d = 2).
PROBES = 2
#: Seconds for a probe's round trip to an idle host; each queued build or reservation adds one.
PROBE_SECONDS = 0.005


class Sparrow(Policy):
    """Probe two hosts, bind to whichever answers first."""

    name = PolicyName.SPARROW

    def __init__(self, fleet: Fleet, settings: SchedulerSettings, rng: random.Random) -> None:
        super().__init__(fleet, settings, rng)
        self._reservations = [0] * fleet.size

    def _queue(self, host: int) -> int:
        return self.fleet.building[host] + self._reservations[host]

    def decide(self, request: Request, candidates: list[int], cache: HostStateCache, now: float) -> Decision:
        probes = self.rng.sample(candidates, min(PROBES, len(candidates)))
        if not probes:
            return Decision((), 0)
        for host in probes:
            self._reservations[host] += 1
        first = min(self._queue(h) for h in probes)
        return Decision(tuple(probes), len(probes), delay=PROBE_SECONDS * first)

    def bind(self, request: Request, decision: Decision, now: float) -> tuple[int, ...]:
        # the host with the shortest queue answered first; the others' reservations are cancelled
        return tuple(sorted(decision.hosts, key=self._queue))

    def settle(self, request: Request, decision: Decision, host: int | None, now: float) -> None:
        for probe in decision.hosts:
            self._reservations[probe] -= 1
