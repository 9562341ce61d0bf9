"""One scheduler worker's host-state cache, refreshed the way nova's HostManager does it.

On every request nova reads the candidates' compute records and overwrites its cached state only
when the record is newer than the cache (``HostState._update_from_compute_node``); after choosing
a host it consumes the request from its own cache (``consume_from_request``), which marks the
cache as newer than any record written so far. So a worker sees its own placements at once,
another worker's only when the compute has written a record after them.
"""

from __future__ import annotations

from dataclasses import dataclass

from opsflow.sched.fleet import Fleet
from opsflow.sched.profile import Flavor

__all__ = ["HostState", "HostStateCache"]


@dataclass
class HostState:
    """What one worker believes about one host (mutable: it is consumed in place)."""

    vcpus_used: int
    ram_used: int
    disk_used: int
    io_ops: int
    load: float
    updated: float


class HostStateCache:
    """A worker's view of the fleet, host by host."""

    def __init__(self, fleet: Fleet) -> None:
        self._fleet = fleet
        self._states: dict[int, HostState] = {}

    def get(self, host: int) -> HostState:
        """The cached state of ``host``, refreshed first if its compute record is newer."""
        record = self._fleet.records[host]
        state = self._states.get(host)
        if state is None or record.updated > state.updated:
            state = HostState(record.vcpus_used, record.ram_used, record.disk_used, record.building,
                              record.load, record.updated)
            self._states[host] = state
        return state

    def consume(self, host: int, flavor: Flavor, now: float) -> None:
        """The worker placed ``flavor`` on ``host``: count it in its own view."""
        state = self.get(host)
        state.vcpus_used += flavor.vcpus
        state.ram_used += flavor.ram_mb
        state.disk_used += flavor.disk_gb
        state.io_ops += 1
        state.updated = now
