"""Bounds on how many of something run at once -- in total, per host -- shared by whoever runs actions.

A forklift batch spreads over every conductor, yet a source hypervisor's disks and network, and a
destination's, take only so many copies at once. An action names the bounds it must hold while it
works (:class:`Bound`: a key such as ``forklift/source/<cloud>/<host>`` and a limit) and holds them
with :func:`hold`; who shares them depends on where actions run:

* in one process (``opsflow run``, ``opsflow forklift apply`` without ``--zookeeper``), by
  threading semaphores of this process (:class:`LocalSlots`, the default);
* under conductors, by kazoo's Semaphore recipe in ZooKeeper (:class:`ZooKeeperSlots`, which the
  conductor installs with :func:`use`), so every conductor on the jobboard counts against the same
  limit; a lease is an ephemeral node, so a conductor killed with -9 frees its slots when its session
  expires.

Bounds are taken in one global order (sorted by key), so two holders never wait on each other in a
cycle. A bound's limit is part of its identity: runs asking the same key with different limits count
separately (kazoo refuses one semaphore with two limits), which is why a batch passes one set of
limits to all its children.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from kazoo import exceptions as k_exc
from kazoo.handlers.threading import KazooTimeoutError

from opsflow.errors import BackendUnavailable

__all__ = ["Bound", "LocalSlots", "Slots", "ZooKeeperSlots", "current", "hold", "use"]

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, order=True)
class Bound:
    """At most ``limit`` holders of ``key`` at once."""

    #: What is bounded, ``/``-separated (``forklift/total``, ``forklift/source/devcloud-source/sim-sou-001``).
    key: str
    #: How many may hold it at once (>= 1).
    limit: int

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError(f"bound {self.key}: the limit must be at least 1, not {self.limit}")

    @property
    def node(self) -> str:
        """A name safe as one ZooKeeper path segment, the limit included."""
        return re.sub(r"[^A-Za-z0-9._-]+", "_", self.key) + f"@{self.limit}"


class Slots(Protocol):
    """Something that holds bounds."""

    def hold(self, bounds: Sequence[Bound], holder: str) -> contextlib.AbstractContextManager[None]:
        """Wait until every bound has room, hold them all for the ``with`` block, release them."""


class LocalSlots:
    """Bounds shared by the threads of this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._semaphores: dict[Bound, threading.BoundedSemaphore] = {}

    def _semaphore(self, bound: Bound) -> threading.BoundedSemaphore:
        with self._lock:
            return self._semaphores.setdefault(bound, threading.BoundedSemaphore(bound.limit))

    @contextlib.contextmanager
    def hold(self, bounds: Sequence[Bound], holder: str) -> Iterator[None]:
        """Acquire in key order, release in reverse."""
        with contextlib.ExitStack() as stack:
            for bound in sorted(set(bounds)):
                semaphore = self._semaphore(bound)
                semaphore.acquire()
                stack.callback(semaphore.release)
            yield


class ZooKeeperSlots:
    """Bounds shared by every process on one ZooKeeper root (kazoo's Semaphore recipe under ``path``)."""

    def __init__(self, client: Any, path: str) -> None:
        self._client = client
        self._path = path.rstrip("/")

    @contextlib.contextmanager
    def hold(self, bounds: Sequence[Bound], holder: str) -> Iterator[None]:
        """Acquire each bound's semaphore in key order (blocking), release in reverse."""
        with contextlib.ExitStack() as stack:
            for bound in sorted(set(bounds)):
                path = f"{self._path}/{bound.node}"
                # the identifier is unique per hold: two tasks of one conductor are two holders
                semaphore = self._client.Semaphore(path, identifier=f"{holder}#{uuid.uuid4().hex[:8]}",
                                                   max_leases=bound.limit)
                try:
                    semaphore.acquire(blocking=True)
                except (k_exc.KazooException, KazooTimeoutError) as exc:
                    raise BackendUnavailable(f"cannot take the bound {bound.key} ({path}) in ZooKeeper: "
                                             f"{exc.__class__.__name__} {exc}; check that the ensemble is up") from exc
                stack.callback(_release, semaphore, path)
            yield


def _release(semaphore: Any, path: str) -> None:
    """Give a lease back; a lost session has dropped it already (the lease node is ephemeral)."""
    try:
        semaphore.release()
    except (k_exc.KazooException, KazooTimeoutError) as exc:
        LOG.warning("bound %s: cannot release the lease (%s); it goes with the session", path, exc)


_current: Slots = LocalSlots()


def use(slots: Slots) -> Slots:
    """Make ``slots`` hold the bounds of every action in this process from now on; returns the previous."""
    global _current
    previous, _current = _current, slots
    return previous


def current() -> Slots:
    """What holds bounds in this process now."""
    return _current


@contextlib.contextmanager
def hold(bounds: Sequence[Bound], holder: str) -> Iterator[float]:
    """Hold ``bounds`` (nothing to hold: at once) for the ``with`` block; yields the seconds spent waiting."""
    began = time.monotonic()
    if not bounds:
        yield 0.0
        return
    with _current.hold(bounds, holder):
        waited = time.monotonic() - began
        if waited > 1.0:
            LOG.info("%s: waited %.1f s for %s", holder, waited, ", ".join(f"{b.key} (≤{b.limit})" for b in bounds))
        yield waited
