"""Two baselines without a full scan: uniform random choice, and the power of two choices.

Both draw from Placement's candidates, so they never pick a host Placement knows to be full.
Power of two choices (Mitzenmacher) looks at two random candidates and keeps the one whose cached
vCPU share is lower: the classic result that two samples cut the maximum load exponentially.
"""

from __future__ import annotations

from opsflow.sched.hoststate import HostStateCache
from opsflow.sched.policies.base import Decision, Policy, Request
from opsflow.sched.profile import PolicyName

__all__ = ["PowerOfTwo", "Random"]


class Random(Policy):
    """A uniformly random candidate (then another, if the claim fails)."""

    name = PolicyName.RANDOM

    def decide(self, request: Request, candidates: list[int], cache: HostStateCache, now: float) -> Decision:
        picks = self.rng.sample(candidates, min(self.settings.max_attempts, len(candidates)))
        return Decision(tuple(picks), len(picks))


class PowerOfTwo(Policy):
    """The less loaded (by the worker's cache) of two random candidates."""

    name = PolicyName.POWER_OF_TWO

    def decide(self, request: Request, candidates: list[int], cache: HostStateCache, now: float) -> Decision:
        picks = self.rng.sample(candidates, min(2, len(candidates)))
        fleet = self.fleet
        picks.sort(key=lambda h: cache.get(h).vcpus_used / fleet.cap_vcpus[h])
        return Decision(tuple(picks), len(picks))
