"""Every policy's invariants, and the behaviours each model exists to show."""

from __future__ import annotations

import dataclasses
import random

import pytest

from opsflow.sched import engine, metrics, policies, profile
from opsflow.sched.fleet import ClaimResult, Fleet
from opsflow.sched.hoststate import HostStateCache
from opsflow.sched.policies.base import Request
from opsflow.sched.policies.impl_nova import normalize
from opsflow.sched.profile import PolicyName

#: 10 small hosts that two bursts overfill: every policy ends up against the capacity wall.
OVERFILL = """\
name: overfill
seed: 5
duration: 200
hosts:
  - {count: 6, vcpus: 4, ram_mb: 8192, disk_gb: 100}
  - {count: 4, vcpus: 8, ram_mb: 16384, disk_gb: 100, load: {mean: 0.3, spread: 0.2}}
allocation_ratios: {vcpu: 2.0, ram: 1.5, disk: 1.0}
flavors:
  small: {vcpus: 1, ram_mb: 2048, disk_gb: 10}
  large: {vcpus: 4, ram_mb: 6144, disk_gb: 20}
traffic:
  - burst: {at: 1, count: 60, over: 1, flavors: {small: 2, large: 1}}
  - poisson: {rate: 0.5, flavors: {small: 1}}
  - burst: {at: 100, count: 60, over: 0, flavors: {small: 1, large: 1}}
scheduler: {workers: 3, threads: 4, boot_seconds: 1}
"""

BURST = """\
name: burst
seed: 11
duration: 60
hosts:
  - {count: 50, vcpus: 16, ram_mb: 65536, disk_gb: 500}
flavors:
  tiny: {vcpus: 1, ram_mb: 512, disk_gb: 1}
traffic:
  - burst: {at: 1, count: 100, over: 0.5, flavors: {tiny: 1}}
scheduler: {workers: 2, threads: 8}
"""


@pytest.fixture(scope="module")
def overfilled() -> dict[PolicyName, engine.RunResult]:
    prof = profile.load_text(OVERFILL)
    return {name: engine.run(prof, name) for name in PolicyName}


@pytest.mark.parametrize("name", list(PolicyName), ids=lambda n: n.value)
def test_never_over_commits(name: PolicyName, overfilled: dict[PolicyName, engine.RunResult]) -> None:
    """No host is ever allocated beyond capacity × allocation ratio, even when the fleet is full."""
    result = overfilled[name]
    assert result.over_committed == ()
    assert all(share <= 1.0 for share in result.shares)
    assert any(o.host is None for o in result.outcomes), "the profile must reach the capacity wall"


@pytest.mark.parametrize("name", list(PolicyName), ids=lambda n: n.value)
def test_every_request_is_placed_or_rejected_once(name: PolicyName,
                                                  overfilled: dict[PolicyName, engine.RunResult]) -> None:
    """Each request has exactly one outcome, and a placed VM's host had room for it."""
    result = overfilled[name]
    ids = [o.request.id for o in result.outcomes]
    assert ids == sorted(set(ids))
    assert metrics.summarize(result).utilisation_at_first_rejection is not None


@pytest.mark.parametrize("name", list(PolicyName), ids=lambda n: n.value)
def test_ranks_only_placement_candidates(name: PolicyName) -> None:
    """A policy ranks only hosts Placement offered, never a host without capacity."""
    prof = profile.load_text(OVERFILL)
    fleet = Fleet(prof, random.Random(1))
    flavor = prof.flavors["large"]
    clock = 0.0
    for host in range(0, fleet.size, 2):  # fill every other host
        while fleet.fits(host, flavor):
            clock += 1
            assert fleet.claim(host, flavor, clock, clock) is ClaimResult.OK
    policy = policies.make(name, fleet, prof.scheduler, random.Random(2))
    cache = HostStateCache(fleet)
    for i in range(20):
        candidates = fleet.candidates(flavor, 1000, random.Random(i) if policy.randomized_candidates else None)
        request = Request(i, flavor, 0.0)
        decision = policy.decide(request, candidates, cache, 100.0)
        order = policy.bind(request, decision, 100.0)
        policy.settle(request, decision, None, 100.0)
        assert order and set(order) <= set(candidates)
        assert all(fleet.fits(h, flavor) for h in order)


def test_claim_conflicts_like_placement() -> None:
    """Placement absorbs up to ten generation conflicts per claim, then answers concurrent update;
    a full provider is refused."""
    prof = profile.load_text(OVERFILL.replace("vcpus: 8, ram_mb: 16384, disk_gb: 100", "vcpus: 32, ram_mb: 65536, disk_gb: 1000"))
    fleet = Fleet(prof, random.Random(1))
    small = prof.flavors["small"]
    host = fleet.size - 1
    for i in range(11):
        assert fleet.claim(host, small, 0.0, 0.01 * (i + 1)) is ClaimResult.OK
    assert fleet.absorbed_conflicts == sum(range(11))
    assert fleet.claim(host, small, 0.0, 0.2) is ClaimResult.CONCURRENT_UPDATE
    assert fleet.claim(host, small, 0.2, 0.23) is ClaimResult.OK
    clock = 1.0
    while fleet.fits(host, small):
        clock += 1
        fleet.claim(host, small, clock, clock)
    assert fleet.claim(host, small, clock, clock) is ClaimResult.NO_CAPACITY


def test_nova_normalizes_like_nova() -> None:
    """Weights scale to 0..1 over the candidates; all equal gives all zero."""
    assert normalize([3.0, 3.0]) == [0.0, 0.0]
    assert normalize([1.0, 3.0, 2.0]) == [0.0, 1.0, 0.5]


def test_nova_stacks_ties_on_the_first_provider() -> None:
    """With defaults, equally weighed hosts go in Placement's order: a concurrent burst herds."""
    prof = profile.load_text(BURST)
    fleet = Fleet(prof, random.Random(1))
    nova = policies.make(PolicyName.NOVA, fleet, prof.scheduler, random.Random(1))
    decision = nova.decide(Request(0, prof.flavors["tiny"], 0.0), list(range(fleet.size)), HostStateCache(fleet), 0.0)
    assert decision.hosts[:3] == (0, 1, 2)


def test_opsflow_spreads_a_burst_better_than_nova() -> None:
    """On the same burst, opsflow's burst imbalance is at most half of nova's, with no more conflicts."""
    prof = profile.load_text(BURST)
    nova = metrics.summarize(engine.run(prof, PolicyName.NOVA))
    ours = metrics.summarize(engine.run(prof, PolicyName.OPSFLOW))
    assert ours.burst.max_over_mean <= nova.burst.max_over_mean / 2
    assert ours.conflicts <= nova.conflicts


def test_same_seed_same_run() -> None:
    """A profile's seed fixes the traffic and the choices: two runs agree exactly."""
    prof = profile.load_text(BURST)
    first, second = (engine.run(prof, PolicyName.OPSFLOW) for _ in range(2))
    assert [o.host for o in first.outcomes] == [o.host for o in second.outcomes]


def test_shuffle_and_subset_spread_nova() -> None:
    """nova's own knobs (shuffle best same weighed, host_subset_size) spread a burst over more hosts."""
    prof = profile.load_text(BURST)
    tuned = dataclasses.replace(prof, scheduler=dataclasses.replace(
        prof.scheduler, shuffle_best_same_weighed_hosts=True, host_subset_size=5))
    default = metrics.summarize(engine.run(prof, PolicyName.NOVA))
    spread = metrics.summarize(engine.run(tuned, PolicyName.NOVA))
    assert spread.burst_hosts > default.burst_hosts
