"""Recent placements per resource provider, in memcached, shared by every scheduler worker.

One key per provider, ``<prefix>:<provider uuid>``, whose value lists ``time:vcpus`` pairs of the
placements made on it in the last ``recent_seconds``. Writes are compare-and-swap (``gets`` then
``cas``), so two workers that chose the same host at the same moment learn it: the loser re-scores.
A memcached that is down or evicts keys only makes the weigher forget recent placements; nova's
own weighers and Placement still decide, so scheduling degrades to nova's behaviour, never stops.

python-memcached is the client: it is already in the services' virtualenv (oslo.cache's
``memcache_pool`` backend needs it, shared/TESTBED.md) and it has ``gets``/``cas``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

import memcache

__all__ = ["Ledger", "parse"]

LOG = logging.getLogger(__name__)


def parse(value: str | None, since: float) -> list[tuple[float, int]]:
    """The ``time:vcpus`` entries of ``value`` newer than ``since``."""
    entries = []
    for item in (value or "").split(","):
        stamp, _, vcpus = item.partition(":")
        try:
            entry = (float(stamp), int(vcpus))
        except ValueError:
            continue
        if entry[0] >= since:
            entries.append(entry)
    return entries


class Ledger:
    """The shared placements, read for many providers at once and written one at a time."""

    def __init__(self, servers: Sequence[str], prefix: str, window: float,
                 clock: Any = time.time) -> None:
        self._client = memcache.Client(list(servers), cache_cas=True, socket_timeout=0.5)
        self._prefix = prefix
        self.window = window
        self._clock = clock

    def _key(self, provider: str) -> str:
        return f"{self._prefix}:{provider}"

    def recent(self, providers: Iterable[str]) -> dict[str, int]:
        """vCPUs placed on each provider in the window, by any worker (0 when unknown)."""
        providers = list(providers)
        since = self._clock() - self.window
        try:
            values = self._client.get_multi([self._key(p) for p in providers])
        except Exception:  # memcached down: weigh as nova would
            LOG.warning("opsflow ledger unreadable; weighing without shared placements", exc_info=True)
            return dict.fromkeys(providers, 0)
        return {p: sum(v for _, v in parse(values.get(self._key(p)), since)) for p in providers}

    def reserve(self, provider: str, vcpus: int, seen: int) -> bool:
        """Add a placement on ``provider`` if its recent vCPUs are still ``seen``; False if another
        worker wrote it since (re-score and try again)."""
        key = self._key(provider)
        now = self._clock()
        try:
            current = self._client.gets(key)
            entries = parse(current, now - self.window)
            if sum(v for _, v in entries) != seen:
                return False
            value = ",".join(f"{t:.3f}:{v}" for t, v in [*entries, (now, vcpus)])
            ttl = int(self.window) + 1
            if current is None:
                return bool(self._client.add(key, value, time=ttl))
            return bool(self._client.cas(key, value, time=ttl))
        except Exception:
            LOG.warning("opsflow ledger unwritable; placement on %s not shared", provider, exc_info=True)
            return True
