"""A model of nova's filter scheduler (nova 34, ``nova/scheduler/manager.py`` and ``weights/``).

Per request nova takes Placement's allocation candidates (at most ``max_placement_results``, in
provider order), builds a host state for each from its cache, runs every enabled filter on every
host, then every weigher; each weigher's raw values are normalised to 0..1 over the candidates
(min-max; all equal gives all zero) and summed with its multiplier. Hosts are sorted by weight,
best first (a stable sort: ties keep Placement's order). With
``shuffle_best_same_weighed_hosts`` the hosts tied for best are shuffled; then one of the best
``host_subset_size`` is chosen at random and moved to the front, and nova claims down that list.

The default weighers that matter on identical, healthy hosts: RAM (free RAM, ×1.0), CPU (free
vCPUs under the allocation ratio, ×1.0), disk (free disk, ×1.0) and I/O ops (builds in progress,
×-1.0). The others (affinity, PCI, build failures, cross-cell, image properties, hypervisor
version, metrics, instances) are equal across such hosts and so add nothing but cost.
"""

from __future__ import annotations

from opsflow.sched.hoststate import HostStateCache
from opsflow.sched.policies.base import Decision, Policy, Request
from opsflow.sched.profile import PolicyName

__all__ = ["NovaFilterScheduler", "normalize"]

#: ``[filter_scheduler] enabled_filters`` by default: Compute, ComputeCapabilities,
#: ImageProperties, ServerGroupAntiAffinity, ServerGroupAffinity.
FILTERS = 5
#: ``nova.scheduler.weights.all_weighers`` in nova 34.
WEIGHERS = 12


def normalize(values: list[float]) -> list[float]:
    """nova's ``weights.normalize``: scale to 0..1; all equal gives all zero."""
    low, high = min(values), max(values)
    if high == low:
        return [0.0] * len(values)
    span = high - low
    return [(v - low) / span for v in values]


class NovaFilterScheduler(Policy):
    """Filters and weighers on the worker's cached host states, then subset choice."""

    name = PolicyName.NOVA

    def decide(self, request: Request, candidates: list[int], cache: HostStateCache, now: float) -> Decision:
        if not candidates:
            return Decision((), 0)
        fleet, ratio = self.fleet, self.fleet.ratios
        states = [cache.get(h) for h in candidates]
        free_ram = [float(fleet.ram_mb[h] - s.ram_used) for h, s in zip(candidates, states, strict=True)]
        free_cpu = [fleet.vcpus[h] * ratio.vcpu - s.vcpus_used for h, s in zip(candidates, states, strict=True)]
        free_disk = [float(fleet.disk_gb[h] - s.disk_used) for h, s in zip(candidates, states, strict=True)]
        io_ops = [float(s.io_ops) for s in states]
        weights = [r + c + d - i for r, c, d, i in zip(normalize(free_ram), normalize(free_cpu),
                                                       normalize(free_disk), normalize(io_ops), strict=True)]
        order = sorted(range(len(candidates)), key=lambda i: -weights[i])
        ranked = [candidates[i] for i in order]
        if self.settings.shuffle_best_same_weighed_hosts:
            best = weights[order[0]]
            tied = sum(1 for i in order if weights[i] == best)
            head = ranked[:tied]
            self.rng.shuffle(head)
            ranked[:tied] = head
        chosen = self.rng.choice(ranked[:self.settings.host_subset_size])
        ranked.remove(chosen)
        return Decision((chosen, *ranked), len(candidates) * (FILTERS + WEIGHERS))
