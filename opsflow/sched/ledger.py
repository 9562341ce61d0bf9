"""Placements every scheduler worker can see: the shared state of opsflow's runtime-aware policy.

In a real cloud this lives in memcached (``opsflow.plugins.nova.ledger``); here it is a model with
the same semantics: per host, the recent placements (time and vCPUs) from every worker, and a
version that grows with each write, so a worker that read a host and then finds the version moved
knows another worker picked it meanwhile (memcached's ``gets``/``cas``).
"""

from __future__ import annotations

from collections import deque

__all__ = ["Ledger"]


class Ledger:
    """Recent placements per host, shared by every worker."""

    #: Seconds of one memcached round trip (``get_multi`` or ``cas``) on a data-centre network.
    rtt_seconds = 0.0005

    def __init__(self, hosts: int, window: float) -> None:
        self.window = window
        self._entries: dict[int, deque[tuple[float, int]]] = {}
        self._versions = [0] * hosts

    def recent(self, host: int, now: float) -> int:
        """vCPUs placed on ``host`` in the last ``window`` seconds, by any worker."""
        entries = self._entries.get(host)
        if not entries:
            return 0
        while entries and entries[0][0] < now - self.window:
            entries.popleft()
        return sum(vcpus for _, vcpus in entries)

    def version(self, host: int) -> int:
        """Grows with every write to ``host``."""
        return self._versions[host]

    def add(self, host: int, vcpus: int, now: float, expected: int) -> bool:
        """Record a placement if nobody wrote ``host`` since version ``expected`` (a cas)."""
        if self._versions[host] != expected:
            return False
        self._versions[host] += 1
        self._entries.setdefault(host, deque()).append((now, vcpus))
        return True
