"""What every placement policy is given and what it answers.

The engine asks Placement for candidates (hosts that fit the flavor, in provider order or, for a
policy that wants it, randomised), hands them to the policy with the worker's host-state cache, and
then claims the hosts the policy ranked, in order. A policy only ranks: claims, conflicts and
retries are the same machinery for all of them, as they are in nova.
"""

from __future__ import annotations

import abc
import random
from dataclasses import dataclass

from opsflow.sched.fleet import Fleet
from opsflow.sched.hoststate import HostStateCache
from opsflow.sched.profile import Flavor, PolicyName, SchedulerSettings

__all__ = ["Decision", "Policy", "Request"]


@dataclass(frozen=True)
class Request:
    """One boot request."""

    id: int
    flavor: Flavor
    arrival: float
    #: Index of the burst it belongs to, or ``None`` for background traffic.
    burst: int | None = None


@dataclass(frozen=True)
class Decision:
    """A policy's ranking of hosts for one request, and what it cost to make."""

    #: Hosts to claim, best first.
    hosts: tuple[int, ...]
    #: Host evaluations: hosts looked at × filters and weighers run on each.
    evaluations: int
    #: Simulated seconds spent after deciding and before the first claim (probes, shared state).
    delay: float = 0.0


class Policy(abc.ABC):
    """Ranks candidate hosts for a request; one instance serves every worker of a simulation."""

    #: Which policy this is.
    name: PolicyName
    #: Ask Placement for candidates in random order (``randomize_allocation_candidates``).
    randomized_candidates = False

    def __init__(self, fleet: Fleet, settings: SchedulerSettings, rng: random.Random) -> None:
        self.fleet = fleet
        self.settings = settings
        self.rng = rng

    @abc.abstractmethod
    def decide(self, request: Request, candidates: list[int], cache: HostStateCache, now: float) -> Decision:
        """Rank ``candidates`` (hosts Placement says fit) for ``request``."""

    def bind(self, request: Request, decision: Decision, now: float) -> tuple[int, ...]:
        """The final order, ``decision.delay`` after deciding (late binding hooks in here)."""
        return decision.hosts

    def settle(self, request: Request, decision: Decision, host: int | None, now: float) -> None:
        """The request was placed on ``host`` (``None``: rejected); release what ``decide`` held."""
