"""The hypervisors as Placement and the computes know them: the truth every policy races for.

Three views of one host exist, as in a real cloud:

* **Placement's allocations** (``used_*``): updated the instant a claim succeeds; a claim that
  would exceed capacity × allocation ratio is refused, and two claims on one provider within
  :attr:`Fleet.write_seconds` of each other conflict (Placement's generation check:
  ``placement.concurrent_update``), the later one losing.
* **The compute record** (``record_*``, what nova's ``compute_nodes`` table holds): written when a
  build reaches the compute and by the resource tracker's periodic update; schedulers refresh their
  host-state caches from it.
* **Measured load** (:meth:`Fleet.measured_load`): the host's own background load plus what its
  running VMs burn, as a monitoring agent would report it.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Sequence
from dataclasses import dataclass

from opsflow.sched.profile import Flavor, Profile

__all__ = ["ClaimResult", "Fleet", "Record"]


class ClaimResult(enum.Enum):
    """What Placement answered to ``PUT /allocations/{consumer}``."""

    OK = "ok"
    #: 409: the provider lacks the resources (the scheduler's view was stale).
    NO_CAPACITY = "no-capacity"
    #: 409 ``placement.concurrent_update``: another claim changed the provider's generation first.
    CONCURRENT_UPDATE = "concurrent-update"


@dataclass(frozen=True)
class Record:
    """A host's compute record: usage as the compute last reported it, and when."""

    vcpus_used: int
    ram_used: int
    disk_used: int
    #: Builds in progress on the host (nova's ``num_io_ops``).
    building: int
    #: Measured CPU load (0..1+) when the record was written.
    load: float
    updated: float


class Fleet:
    """N hypervisors: capacities, Placement's allocations, compute records, measured load."""

    #: Placement's ``allocation_conflict_retry_count``: generation conflicts it absorbs per claim.
    placement_retries = 10
    #: CPU load one running vCPU adds to its host's measured load, as a share of the host's cores.
    load_per_vcpu = 0.5

    def __init__(self, profile: Profile, rng: random.Random) -> None:
        self.ratios = profile.ratios
        caps: list[tuple[int, int, int, float]] = []
        for group in profile.hosts:
            for _ in range(group.count):
                load = max(0.0, rng.uniform(group.load_mean - group.load_spread,
                                            group.load_mean + group.load_spread))
                caps.append((group.vcpus, group.ram_mb, group.disk_gb, load))
        self.size = len(caps)
        self.vcpus = [c[0] for c in caps]
        self.ram_mb = [c[1] for c in caps]
        self.disk_gb = [c[2] for c in caps]
        self.base_load = [c[3] for c in caps]
        #: Capacity Placement allows per host: total × allocation ratio.
        self.cap_vcpus = [int(v * self.ratios.vcpu) for v in self.vcpus]
        self.cap_ram = [int(r * self.ratios.ram) for r in self.ram_mb]
        self.cap_disk = [int(d * self.ratios.disk) for d in self.disk_gb]
        self.used_vcpus = [0] * self.size
        self.used_ram = [0] * self.size
        self.used_disk = [0] * self.size
        self.vms = [0] * self.size
        #: Running vCPUs per host (the builds that finished), for measured load.
        self.running_vcpus = [0] * self.size
        self.building = [0] * self.size
        self._writes: list[list[float]] = [[] for _ in range(self.size)]
        #: Generation conflicts Placement retried internally (invisible to the scheduler).
        self.absorbed_conflicts = 0
        self.records = [Record(0, 0, 0, 0, self.base_load[h], 0.0) for h in range(self.size)]

    # -- Placement ---------------------------------------------------------------------------

    def fits(self, host: int, flavor: Flavor) -> bool:
        """Whether Placement would accept ``flavor`` on ``host`` now."""
        return (self.used_vcpus[host] + flavor.vcpus <= self.cap_vcpus[host]
                and self.used_ram[host] + flavor.ram_mb <= self.cap_ram[host]
                and self.used_disk[host] + flavor.disk_gb <= self.cap_disk[host])

    def candidates(self, flavor: Flavor, limit: int, rng: random.Random | None = None) -> list[int]:
        """``GET /allocation_candidates?limit=``: hosts that fit, in provider order unless ``rng``
        is given (Placement's ``randomize_allocation_candidates``); at most ``limit``."""
        if rng is None:
            out: list[int] = []
            for host in range(self.size):
                if self.fits(host, flavor):
                    out.append(host)
                    if len(out) == limit:
                        break
            return out
        if limit * 4 >= self.size:
            fitting = [h for h in range(self.size) if self.fits(h, flavor)]
            return rng.sample(fitting, min(limit, len(fitting)))
        # a random sample of a large fleet without scanning it: draw, keep what fits
        chosen: dict[int, None] = {}
        for _ in range(limit * 8):
            host = rng.randrange(self.size)
            if host not in chosen and self.fits(host, flavor):
                chosen[host] = None
                if len(chosen) == limit:
                    break
        return list(chosen)

    def claim(self, host: int, flavor: Flavor, started: float, now: float) -> ClaimResult:
        """Allocate ``flavor`` on ``host`` at ``now`` for a claim that read the provider at
        ``started``, as Placement would."""
        writes = self._writes[host]
        overtaken = sum(1 for t in writes if t > started)
        if overtaken > self.placement_retries:
            return ClaimResult.CONCURRENT_UPDATE
        if not self.fits(host, flavor):
            return ClaimResult.NO_CAPACITY
        self.absorbed_conflicts += overtaken
        writes[:] = [t for t in writes if t > now - 60.0] + [now]
        self.used_vcpus[host] += flavor.vcpus
        self.used_ram[host] += flavor.ram_mb
        self.used_disk[host] += flavor.disk_gb
        self.vms[host] += 1
        return ClaimResult.OK

    def release(self, host: int, flavor: Flavor) -> None:
        """A VM was deleted: its allocation and its load go."""
        self.used_vcpus[host] -= flavor.vcpus
        self.used_ram[host] -= flavor.ram_mb
        self.used_disk[host] -= flavor.disk_gb
        self.vms[host] -= 1
        self.running_vcpus[host] -= flavor.vcpus

    # -- the compute side --------------------------------------------------------------------

    def measured_load(self, host: int) -> float:
        """CPU load a monitoring agent reports for ``host`` now."""
        return self.base_load[host] + self.load_per_vcpu * self.running_vcpus[host] / self.vcpus[host]

    def report(self, host: int, now: float) -> None:
        """The compute writes its record (at a build's claim on the compute, and periodically)."""
        self.records[host] = Record(self.used_vcpus[host], self.used_ram[host], self.used_disk[host],
                                    self.building[host], self.measured_load(host), now)

    def build_started(self, host: int, now: float) -> None:
        """A build reached the compute: it claims locally and writes its record."""
        self.building[host] += 1
        self.report(host, now)

    def build_finished(self, host: int, flavor: Flavor) -> None:
        """The VM is running: it now burns CPU."""
        self.building[host] -= 1
        self.running_vcpus[host] += flavor.vcpus

    # -- what the metrics read ----------------------------------------------------------------

    def vcpu_shares(self) -> list[float]:
        """Allocated share of each host's vCPU capacity."""
        return [u / c for u, c in zip(self.used_vcpus, self.cap_vcpus, strict=True)]

    def utilisation(self) -> float:
        """Allocated share of the whole fleet's vCPU capacity."""
        return sum(self.used_vcpus) / sum(self.cap_vcpus)

    def over_committed(self) -> Sequence[int]:
        """Hosts whose allocations exceed capacity × allocation ratio (must always be empty)."""
        return [h for h in range(self.size)
                if self.used_vcpus[h] > self.cap_vcpus[h] or self.used_ram[h] > self.cap_ram[h]
                or self.used_disk[h] > self.cap_disk[h]]
