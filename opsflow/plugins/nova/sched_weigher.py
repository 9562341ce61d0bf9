"""``OpsflowRuntimeWeigher``: weigh hosts by what every scheduler worker just placed on them.

nova's weighers read each worker's own host-state cache, which learns of another worker's
placements, or of a concurrent request's in the same worker, only when the compute reports; so a
burst of simultaneous boots weighs the same snapshot and lands on the same few hosts. This weigher
adds, per host, the vCPUs placed there in the last ``recent_seconds`` by any worker (the memcached
:mod:`ledger <opsflow.plugins.nova.sched_ledger>`), and the host's measured CPU load when its
compute reports one (the ``cpu.percent`` monitor metric). It then reserves the best host in the
ledger with a compare-and-swap; if another worker took it meanwhile it scores again. The reserved
host gets the top weight, so with ``weight_multiplier`` above the other weighers' sum it is the
host nova claims first (with the default ``host_subset_size = 1``).

Load with ``[filter_scheduler] weight_classes = nova.scheduler.weights.all_weighers,
opsflow.plugins.nova.sched_weigher.OpsflowRuntimeWeigher``.
"""

from __future__ import annotations

import logging
from typing import Any

import nova.conf
from nova.scheduler import weights

from opsflow.plugins.nova import sched_opts
from opsflow.plugins.nova.sched_ledger import Ledger

__all__ = ["OpsflowRuntimeWeigher", "used_share"]

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF
sched_opts.register(CONF)


def used_share(host_state: Any, recent_vcpus: int, vcpus: int, ram_mb: int) -> float:
    """The worst of vCPU and RAM allocation shares after this request, recent placements included."""
    cpu_cap = max(1.0, host_state.vcpus_total * host_state.cpu_allocation_ratio)
    ram_cap = max(1.0, host_state.total_usable_ram_mb * host_state.ram_allocation_ratio)
    ram_used = host_state.total_usable_ram_mb - host_state.free_ram_mb
    share: float = max((host_state.vcpus_used + recent_vcpus + vcpus) / cpu_cap, (ram_used + ram_mb) / ram_cap)
    return share


def _measured_load(host_state: Any) -> float:
    for metric in getattr(host_state, "metrics", None) or ():
        if getattr(metric, "name", None) == "cpu.percent":
            return float(metric.value) / 100.0
    return 0.0


class OpsflowRuntimeWeigher(weights.BaseHostWeigher):  # type: ignore[misc]
    """Shared recent placements plus measured load; the host it reserved weighs most."""

    _ledger: Ledger | None = None

    def weight_multiplier(self, host_state: Any) -> float:
        multiplier: float = CONF.opsflow_sched.weight_multiplier
        return multiplier

    def _weigh_object(self, host_state: Any, weight_properties: Any) -> float:
        raise NotImplementedError("weigh_objects weighs all hosts at once")  # never called

    @classmethod
    def ledger(cls) -> Ledger:
        """One memcached client per process, made on first use (after nova parsed its config)."""
        if cls._ledger is None:
            opts = CONF.opsflow_sched
            cls._ledger = Ledger(opts.memcache_servers, opts.key_prefix, opts.recent_seconds)
        return cls._ledger

    def weigh_objects(self, weighed_obj_list: list[Any], weight_properties: Any) -> list[float]:
        hosts = [w.obj for w in weighed_obj_list]
        flavor = weight_properties.flavor
        ledger = self.ledger()
        recent = ledger.recent(h.uuid for h in hosts)
        load_weight = CONF.opsflow_sched.load_weight

        def scores() -> list[float]:
            return [used_share(h, recent[h.uuid], flavor.vcpus, flavor.memory_mb)
                    + load_weight * _measured_load(h) for h in hosts]

        current = scores()
        for _ in range(CONF.opsflow_sched.cas_rounds):
            best = min(range(len(hosts)), key=current.__getitem__)
            if ledger.reserve(hosts[best].uuid, flavor.vcpus, recent[hosts[best].uuid]):
                break
            recent.update(ledger.recent([hosts[best].uuid]))
            current = scores()
        LOG.debug("opsflow: reserved %s (score %.3f) among %d hosts", hosts[best].host, current[best], len(hosts))
        top = max(-s for s in current)
        # strictly above every other host, so it stays first after nova normalises and sums
        return [top + 1.0 if i == best else -s for i, s in enumerate(current)]
