"""Replay and lockout state shared by every API worker and process: memcached.

memcached's ``add`` is atomic and fails when the key exists, so "this passcode (or signature) is
used now" is one round trip that exactly one of two racing workers wins, and the entry expires by
itself once the passcode could no longer be valid anyway. Keys are hashed: they would otherwise
carry user ids and signatures into memcached's key space, and memcached refuses spaces and long
keys. The store fails closed: when memcached cannot be reached, callers refuse the request
(:class:`StoreUnavailable`), because accepting it would silently drop replay protection.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from typing import Any

import memcache

__all__ = ["MemcacheStore", "StoreUnavailable"]


class StoreUnavailable(Exception):
    """memcached did not answer; the middleware refuses rather than accept a possible replay."""


class MemcacheStore:
    """First-use marks and failure counters in memcached, namespaced by ``prefix``."""

    #: Namespace of every key, so opsflow's entries never meet Swift's or Keystone's.
    PREFIX = "opsflow-auth"

    def __init__(self, servers: Sequence[str]) -> None:
        if not servers:
            raise ValueError("memcache_servers is empty: replay protection needs a shared store "
                             "(memcached HOST:PORT)")
        self._servers = list(servers)
        self._local = threading.local()

    def _client(self) -> Any:
        # python-memcached clients are not thread-safe; one per thread
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = memcache.Client(self._servers, socket_timeout=1)
        return client

    def _key(self, kind: str, *parts: str) -> str:
        digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()
        return f"{self.PREFIX}:{kind}:{digest}"

    def first_use(self, kind: str, ttl: int, *parts: str, owner: str = "") -> bool:
        """Mark ``parts`` as used for ``ttl`` seconds; True only for the first caller.

        ``owner`` names the request: a proxy that checks one client request several times (Swift's
        s3api runs its subrequests through the pipeline with the same signature) passes its
        transaction id, so only another request with the same parts counts as a replay.
        """
        client = self._client()
        key, mark = self._key(kind, *parts), owner or "-"
        if client.add(key, mark, time=max(1, ttl)):
            return True
        held = client.get(key)
        if held is None:  # add also fails when no server answers: tell a replay from an outage
            raise StoreUnavailable(f"memcached {', '.join(self._servers)} did not answer")
        return bool(owner) and str(held) == owner

    def count(self, kind: str, *parts: str) -> int:
        """The current value of a counter (0 when unset or expired)."""
        value = self._client().get(self._key(kind, *parts))
        return int(value) if value is not None else 0

    def bump(self, kind: str, ttl: int, *parts: str) -> int:
        """Add one to a counter that expires ``ttl`` seconds after its first bump; return it."""
        client = self._client()
        key = self._key(kind, *parts)
        if client.add(key, "1", time=max(1, ttl)):
            return 1
        value = client.incr(key)
        if value is None:
            raise StoreUnavailable(f"memcached {', '.join(self._servers)} did not answer")
        return int(value)

    def forget(self, kind: str, *parts: str) -> None:
        """Remove one entry (a counter reset by a successful login)."""
        self._client().delete(self._key(kind, *parts))

    def set(self, kind: str, ttl: int, value: str, *parts: str) -> None:
        """Store ``value`` for ``ttl`` seconds (last-use records)."""
        self._client().set(self._key(kind, *parts), value, time=max(1, ttl))

    def get(self, kind: str, *parts: str) -> str | None:
        """The value :meth:`set` stored, or None."""
        value = self._client().get(self._key(kind, *parts))
        return None if value is None else str(value)
