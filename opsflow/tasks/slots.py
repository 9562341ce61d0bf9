"""Bounds on how many of something run at once, and on how fast -- in total, per host, per cloud --
shared by whoever runs actions.

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

Rates (:class:`Rate`: at most so many units a second of a key, API calls to a cloud or bytes through
a host) are token buckets whose whole state is one number, the bucket's *theoretical arrival time*
(GCRA, the cell-rate algorithm of ATM networks): the wall-clock time at which the bucket would be full
again. :func:`pace` reserves units by pushing that time forward by ``units / rate`` and sleeps until
the reservation falls within one second's burst. In one process the number lives in this process
(:class:`LocalSlots`); under conductors it is the data of one ZooKeeper node under ``<root>/slots/rates``
updated by compare-and-set on its version (:class:`ZooKeeperSlots`), so every conductor draws from the
same bucket with one round trip per reservation and no lock held while anyone sleeps. A caller that
dies after reserving simply leaves its units spent (the bound errs on the slow side), and the
conductors' clocks must agree to well under a second (NTP), since each computes "now" itself.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from kazoo import exceptions as k_exc
from kazoo.handlers.threading import KazooTimeoutError

from opsflow.errors import ActionFailed, BackendUnavailable

__all__ = ["BURST_SECONDS", "Bound", "LocalSlots", "Rate", "Slots", "ZooKeeperSlots", "byte_rates", "current", "hold",
           "limits_of", "pace", "pacing", "reserve", "use"]

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


#: A rate bucket holds one second's worth of units: after a pause, that much passes at once.
BURST_SECONDS = 1.0


@dataclasses.dataclass(frozen=True, order=True)
class Rate:
    """At most ``per_second`` units of ``key`` a second, in bursts of up to :data:`BURST_SECONDS`' worth."""

    #: What is paced, ``/``-separated (``forklift/api/devcloud-source``, ``forklift/bytes/source/<cloud>/<host>``).
    key: str
    #: Units a second (> 0).
    per_second: float

    def __post_init__(self) -> None:
        if not self.per_second > 0:
            raise ValueError(f"rate {self.key}: units a second must be more than 0, not {self.per_second}")

    @property
    def node(self) -> str:
        """A name safe as one ZooKeeper path segment, the rate included (as for :attr:`Bound.node`)."""
        return re.sub(r"[^A-Za-z0-9._-]+", "_", self.key) + f"@{self.per_second:g}"


def reserve(arrival: float, now: float, units: float, rate: Rate) -> tuple[float, float]:
    """Reserve ``units`` of a bucket whose theoretical arrival time is ``arrival``, at time ``now``:
    the bucket's new arrival time and the seconds to wait before the units may be used."""
    arrival = max(arrival, now) + units / rate.per_second
    return arrival, max(0.0, arrival - BURST_SECONDS - now)


def limits_of(limits: Mapping[str, Any], keys: Sequence[str]) -> dict[str, int]:
    """The limits a run asked for (a flow's ``limits`` input), by key; a key given None is unbounded.

    ActionFailed names an unknown key (and the known ones) or a value that is not a whole number >= 1.
    """
    unknown = [str(key) for key in limits if key not in keys]
    if unknown:
        raise ActionFailed(f"limits: unknown key(s) {', '.join(unknown)}; say some of {', '.join(keys)}")
    wanted: dict[str, int] = {}
    for key, value in limits.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ActionFailed(f"limits.{key}: {value!r}; give a whole number, at least 1")
        wanted[key] = value
    return wanted


class Slots(Protocol):
    """Something that holds bounds and paces rates."""

    def hold(self, bounds: Sequence[Bound], holder: str) -> contextlib.AbstractContextManager[None]:
        """Wait until every bound has room, hold them all for the ``with`` block, release them."""

    def reserve(self, rate: Rate, units: float) -> float:
        """Reserve ``units`` of ``rate`` now; the seconds to wait before using them (no sleeping here)."""


class LocalSlots:
    """Bounds shared by the threads of this process."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._semaphores: dict[Bound, threading.BoundedSemaphore] = {}
        self._arrivals: dict[Rate, float] = {}
        self._clock = clock

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

    def reserve(self, rate: Rate, units: float) -> float:
        """The bucket's arrival time lives in this process."""
        with self._lock:
            self._arrivals[rate], wait = reserve(self._arrivals.get(rate, 0.0), self._clock(), units, rate)
        return wait


class ZooKeeperSlots:
    """Bounds shared by every process on one ZooKeeper root (kazoo's Semaphore recipe under ``path``)."""

    #: Where the rate buckets live, under the slots path: one node per rate, its data the arrival time.
    RATES = "rates"

    def __init__(self, client: Any, path: str, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._path = path.rstrip("/")
        self._clock = clock

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

    def reserve(self, rate: Rate, units: float) -> float:
        """Compare-and-set the bucket's node until this reservation is the one stored."""
        path = f"{self._path}/{self.RATES}/{rate.node}"
        try:
            while True:
                try:
                    data, stat = self._client.get(path)
                except k_exc.NoNodeError:
                    arrival, wait = reserve(0.0, self._clock(), units, rate)
                    try:
                        self._client.create(path, repr(arrival).encode(), makepath=True)
                    except k_exc.NodeExistsError:
                        continue  # another holder made it first: reserve against theirs
                    return wait
                arrival, wait = reserve(float(data or b"0"), self._clock(), units, rate)
                try:
                    self._client.set(path, repr(arrival).encode(), version=stat.version)
                except k_exc.BadVersionError:
                    continue  # another reservation came in between: take ours after it
                return wait
        except (k_exc.KazooException, KazooTimeoutError) as exc:
            raise BackendUnavailable(f"cannot pace {rate.key} ({path}) in ZooKeeper: {exc.__class__.__name__} "
                                     f"{exc}; check that the ensemble is up") from exc


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


#: The byte rates the transfer running in this thread (context) is paced by; see :func:`pacing`.
_byte_rates: contextvars.ContextVar[tuple[Rate, ...]] = contextvars.ContextVar("opsflow_byte_rates", default=())


def pace(rates: Sequence[Rate], units: float) -> float:
    """Reserve ``units`` of every rate and sleep until all may be used; returns the seconds slept."""
    if not rates or units <= 0:
        return 0.0
    wait = max(_current.reserve(rate, units) for rate in sorted(set(rates)))
    if wait > 0:
        time.sleep(wait)
    return wait


@contextlib.contextmanager
def pacing(rates: Sequence[Rate]) -> Iterator[None]:
    """Make ``rates`` the byte rates of whatever streams bytes in this context (see :func:`byte_rates`)."""
    token = _byte_rates.set(tuple(rates))
    try:
        yield
    finally:
        _byte_rates.reset(token)


def byte_rates() -> tuple[Rate, ...]:
    """The byte rates set by the :func:`pacing` around this call (none: stream at full speed).

    A streamer reads them in its own thread and hands them to :func:`pace` per chunk, also from
    helper threads it starts (a context variable does not follow a new thread by itself).
    """
    return _byte_rates.get()
