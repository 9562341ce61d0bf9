"""Placement policies the simulator compares, by name."""

from __future__ import annotations

import random

from opsflow.sched.fleet import Fleet
from opsflow.sched.policies.base import Decision, Policy, Request
from opsflow.sched.policies.impl_nova import NovaFilterScheduler
from opsflow.sched.policies.impl_opsflow import RuntimeAware
from opsflow.sched.policies.impl_random import PowerOfTwo, Random
from opsflow.sched.policies.impl_sparrow import Sparrow
from opsflow.sched.profile import PolicyName, SchedulerSettings

__all__ = ["Decision", "Policy", "Request", "make"]

_CLASSES: dict[PolicyName, type[Policy]] = {
    PolicyName.NOVA: NovaFilterScheduler,
    PolicyName.RANDOM: Random,
    PolicyName.POWER_OF_TWO: PowerOfTwo,
    PolicyName.SPARROW: Sparrow,
    PolicyName.OPSFLOW: RuntimeAware,
}


def make(name: PolicyName, fleet: Fleet, settings: SchedulerSettings, rng: random.Random) -> Policy:
    """A fresh policy of kind ``name`` over ``fleet``."""
    return _CLASSES[name](fleet, settings, rng)
