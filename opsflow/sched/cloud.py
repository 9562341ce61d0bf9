"""The same burst on a real cloud: boot N servers at once, see where real nova put them.

Used against the simulated cloud (``opsflow devcloud up``) to check the model against real nova
and to compare nova's defaults with opsflow's plugins. Conflicts are read from Placement's request
log: every ``PUT /allocations/...`` answered 409 during the burst (a concurrent update or a stale
capacity view, as in the model).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openstack

from opsflow.devcloud import clouds, seed
from opsflow.devcloud.layout import Layout
from opsflow.errors import OpsflowError

__all__ = ["CloudBurst", "HostLoad", "burst"]

LOG = logging.getLogger(__name__)

_CONFLICT = re.compile(r'"PUT /allocations/[^"]*" status: 409')


@dataclass(frozen=True)
class HostLoad:
    """What a hypervisor already held before a burst, as Placement counts it."""

    vcpus_used: int
    ram_used_mb: int
    #: Allocatable totals: (total - reserved) x allocation ratio.
    vcpus_capacity: float
    ram_capacity_mb: float

    def share_after(self, servers: int, vcpus: int, ram_mb: int) -> float:
        """The worse of the vCPU and RAM shares once ``servers`` more of a flavor are placed (the
        measure opsflow's weigher balances)."""
        return max((self.vcpus_used + servers * vcpus) / self.vcpus_capacity,
                   (self.ram_used_mb + servers * ram_mb) / self.ram_capacity_mb)


@dataclass(frozen=True)
class CloudBurst:
    """Where a burst of boots landed on a real cloud."""

    region: str
    #: Hypervisor names, in the order of ``per_host``.
    hosts: tuple[str, ...]
    #: Servers of the burst on each hypervisor (zeros included).
    per_host: tuple[int, ...]
    #: Placement 409s on allocation claims during the burst.
    conflicts: int
    #: Servers that ended in ERROR.
    errors: int
    #: Seconds between the first and the last create request leaving the client.
    spread_seconds: float
    #: Seconds from the first request until every server was ACTIVE or ERROR.
    seconds: float
    #: vCPUs, RAM (MiB) and disk (GB) of the first hypervisor.
    capacity: tuple[int, int, int]
    #: What each hypervisor held before the burst, in the order of ``hosts`` (earlier suites' or
    #: users' servers: an even spread of the burst is only right on hosts that started even).
    before: tuple[HostLoad, ...]
    #: vCPUs and RAM (MiB) of the flavor booted.
    flavor: tuple[int, int]


def _unlimited_quotas(admin: Any, project_id: str) -> None:
    admin.set_compute_quotas(project_id, instances=-1, cores=-1, ram=-1)
    admin.network.update_quota(project_id, port=-1)


def _load(admin: Any, node: str) -> tuple[HostLoad, tuple[int, int, int]]:
    """What ``node`` holds now and its allocatable capacity, and its vCPUs, RAM and disk totals, from
    one read of Placement's inventory (newer compute microversions hide the totals)."""
    (provider,) = admin.placement.resource_providers(name=node)
    inventory = {i.resource_class: i for i in admin.placement.resource_provider_inventories(provider)}
    usages = admin.placement.get(f"/resource_providers/{provider.id}/usages",
                                 microversion="1.9").json()["usages"]

    def capacity(resource: str) -> float:
        item = inventory[resource]
        return max(1.0, float((item.total - item.reserved) * item.allocation_ratio))

    def total(resource: str) -> int:
        return int(inventory[resource].total) if resource in inventory else 0

    load = HostLoad(int(usages.get("VCPU", 0)), int(usages.get("MEMORY_MB", 0)),
                    capacity("VCPU"), capacity("MEMORY_MB"))
    return load, (total("VCPU"), total("MEMORY_MB"), total("DISK_GB"))


def _log_size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _conflicts_since(path: Path, offset: int) -> int:
    with path.open("rb") as handle:
        handle.seek(offset)
        text = handle.read().decode("utf-8", "replace")
    return len(_CONFLICT.findall(text))


def burst(layout: Layout, region: str, count: int, *, concurrency: int = 20, flavor: str = "m1.tiny",
          timeout: float = 600.0) -> CloudBurst:
    """Boot ``count`` servers at once in ``region`` (``concurrency`` requests in flight), wait for
    them, record where they landed, and delete them again."""
    demo_name, admin_name = clouds.cloud_names(region)
    demo, admin = openstack.connect(cloud=demo_name), openstack.connect(cloud=admin_name)
    try:
        _unlimited_quotas(admin, str(demo.current_project_id))
        hypervisors = sorted(admin.compute.hypervisors(details=True), key=lambda h: h.name)
        names = tuple(h.name for h in hypervisors)
        image, net = seed.image_id(demo), demo.network.find_network(seed.NETWORK_NAME, ignore_missing=False).id
        found = demo.compute.find_flavor(flavor, ignore_missing=False)
        loads = [_load(admin, n) for n in names]
        before, capacity = tuple(load for load, _totals in loads), loads[0][1]
        log = layout.logs / f"{region}-placement.log"
        offset = _log_size(log)
        tag = f"sched-burst-{uuid.uuid4().hex[:8]}"
        sent: list[float] = []

        def create(i: int) -> Any:
            sent.append(time.monotonic())
            return demo.compute.create_server(name=f"{tag}-{i:04d}", image_id=image, flavor_id=found.id,
                                              networks=[{"uuid": net}])

        started = time.monotonic()
        with ThreadPoolExecutor(concurrency) as pool:
            servers = list(pool.map(create, range(count)))
        ids = {s.id for s in servers}
        deadline = started + timeout
        while True:
            done = {s.id: s for s in admin.compute.servers(all_projects=True, name=f"^{tag}-")
                    if s.id in ids and s.status in ("ACTIVE", "ERROR")}
            if len(done) == len(ids):
                break
            if time.monotonic() > deadline:
                raise OpsflowError(f"{len(ids) - len(done)} of {count} servers of burst {tag} in {region} "
                                   f"were not ACTIVE or ERROR after {timeout:.0f} s; see "
                                   f"`opsflow devcloud logs {region}-nova-control`")
            time.sleep(1)
        seconds = time.monotonic() - started
        landed = Counter(s.compute_host for s in done.values() if s.status == "ACTIVE")
        conflicts = _conflicts_since(log, offset)
        for server_id in ids:
            admin.compute.delete_server(server_id, ignore_missing=True)
        while any(s.id in ids for s in admin.compute.servers(all_projects=True, name=f"^{tag}-")):
            if time.monotonic() > deadline + 300:
                raise OpsflowError(f"servers of burst {tag} in {region} were not deleted within 300 s")
            time.sleep(1)
        return CloudBurst(region, names, tuple(landed.get(n, 0) for n in names), conflicts,
                          sum(1 for s in done.values() if s.status == "ERROR"),
                          max(sent) - min(sent), seconds, capacity, before, (found.vcpus, found.ram))
    finally:
        demo.close()
        admin.close()
