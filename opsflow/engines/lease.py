"""Run leases: one owner per run, enforced by the store.

Taking a run -- ``run``, ``resume``, ``revert``, a conductor's claim -- takes its lease. The lease
carries a **token** that grows with every new owner, and the store makes every state write of the
run conditional on it (SQLite: the write checks the lease row in the same statement or
transaction; ZooKeeper: one multi-op with a ``check`` of the lease node's version). A process that
lost its run -- SIGSTOPped past its lease, cut off from ZooKeeper, or simply too slow -- therefore
cannot write over the new owner's state: its write raises :class:`~opsflow.errors.LeaseLost`.

Before each task starts the engine asks :meth:`Lease.may_start` twice -- when it schedules the
task, and in the worker just before the task acts (a process stopped in between wakes with the
task still to do) -- which needs no round trip: the lease is known good until ``renewed +
good_for`` on the monotonic clock (a SIGSTOPped process wakes up past that), and the store can veto
at once (a ZooKeeper session SUSPENDED). A heartbeat thread renews it every third of its lifetime.

A holder is a process: pid, host and when the process started (:mod:`opsflow.process_start`, which
no step of the wall clock moves; so a reused pid is not taken for alive), plus the conductor's name
when a conductor owns the run. A lease whose holder is a dead process on this host is free at
once; one held elsewhere is free once it expires (SQLite) or its holder's ZooKeeper session ends.

What an action can still observe: delivery stays at-least-once (a task in flight when its owner
stopped runs again under the next owner), but no two live owners ever start tasks of the same run.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import socket
import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import psutil

from opsflow import process_start
from opsflow.errors import BackendUnavailable, LeaseLost

__all__ = ["Holder", "Lease", "LeaseRecord", "LeaseStore"]

LOG = logging.getLogger(__name__)


@functools.cache
def _own_start() -> str:
    return process_start.of(os.getpid()) or ""


@dataclasses.dataclass(frozen=True)
class Holder:
    """Who holds a lease."""

    #: Process id.
    pid: int
    #: Host name (``socket.gethostname()``).
    host: str
    #: When the process started, ``<boot id>/<clock ticks>`` (:func:`opsflow.process_start.of`): a reused pid has another.
    started: str
    #: The conductor's name, when a conductor owns the run.
    conductor: str | None = None

    @classmethod
    def this_process(cls, conductor: str | None = None) -> Holder:
        """This process (as ``conductor``, if given)."""
        return cls(os.getpid(), socket.gethostname(), _own_start(), conductor)

    def describe(self) -> str:
        """``conductor c1 (pid 4242@host)`` or ``4242@host``."""
        where = f"{self.pid}@{self.host}"
        return f"conductor {self.conductor} ({where})" if self.conductor else where

    def is_dead(self) -> bool:
        """True when the holder is a process of this host that no longer runs (a pid reused counts)."""
        if self.host != socket.gethostname():
            return False
        try:
            if psutil.Process(self.pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        except psutil.Error:
            return False
        return process_start.of(self.pid) != self.started

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for the store."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Holder | None:
        """Read back :meth:`to_dict`; None for anything else (a released lease)."""
        try:
            return cls(int(data["pid"]), str(data["host"]), str(data["started"]), data.get("conductor"))
        except (TypeError, KeyError, ValueError):
            return None


@dataclasses.dataclass(frozen=True)
class LeaseRecord:
    """A run's lease as stored, for listings and refusals."""

    #: The run.
    run_id: str
    #: Who holds it; None once released.
    holder: Holder | None
    #: The token of the latest owner.
    token: int
    #: When it lapses unless renewed (epoch seconds); None while a ZooKeeper session keeps it.
    expires: float | None
    #: Whether the holder is alive as far as the store can tell (not expired, session alive, pid alive).
    live: bool

    @property
    def owner(self) -> str | None:
        """``4242@host (live)``, ``4242@host (lapsed)``, or None when nobody holds it."""
        if self.holder is None:
            return None
        return f"{self.holder.describe()} ({'live' if self.live else 'lapsed'})"


@runtime_checkable
class LeaseStore(Protocol):
    """What a persistence backend offers for leases (both opsflow backends implement it)."""

    def take_lease(self, run_id: str, holder: Holder, ttl: float) -> tuple[int, float]:
        """Take the lease if free, expired or held by a dead local process: (token, seconds it is good
        for); :class:`~opsflow.errors.RunOwned` otherwise. From now on this backend's writes of the run
        are fenced by the token."""

    def renew_lease(self, run_id: str, token: int, ttl: float) -> float:
        """Extend the lease; seconds it is good for from the call; LeaseLost if another took it."""

    def release_lease(self, run_id: str, token: int) -> None:
        """Give the lease up (a no-op if another took it) and stop fencing the run's writes."""

    def read_lease(self, run_id: str) -> LeaseRecord | None:
        """The stored lease of a run, if it ever had one."""

    def read_leases(self, run_ids: list[str] | None = None) -> dict[str, LeaseRecord]:
        """Stored leases (of these runs, or all), by run id."""

    def lease_usable(self, run_id: str) -> bool:
        """False while the store cannot promise the lease holds (a ZooKeeper session SUSPENDED or lost)."""

    def drop_leases(self, run_ids: Sequence[str]) -> None:
        """Forget these finished runs' leases (retention prunes them); a lease someone holds stays."""


class Lease:
    """A run's lease held by this process: taken, renewed by a heartbeat thread, checked locally."""

    #: Default lifetime of an SQLite lease (a ZooKeeper lease lives as long as its session).
    TTL = 10.0
    #: Share of the lifetime after which the heartbeat renews.
    RENEW_EVERY = 1 / 3

    def __init__(self, store: LeaseStore, run_id: str, holder: Holder, ttl: float | None = None) -> None:
        self.store = store
        self.run_id = run_id
        self.holder = holder
        self.ttl = ttl or self.TTL
        self.token = 0
        self._valid_until = 0.0
        self._lost = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        #: Called (from the heartbeat thread) once the lease is lost, to stop the engine.
        self.on_lost: list[Any] = []

    def take(self) -> Lease:
        """Take the lease (RunOwned if another live process has it) and start renewing it."""
        started = time.monotonic()
        self.token, good_for = self.store.take_lease(self.run_id, self.holder, self.ttl)
        self._valid_until = started + good_for
        self._thread = threading.Thread(target=self._heartbeat, name=f"lease {self.run_id[:8]}", daemon=True)
        self._thread.start()
        LOG.debug("run %s: lease taken by %s, token %d", self.run_id, self.holder.describe(), self.token)
        return self

    def release(self) -> None:
        """Stop renewing and give the lease up (safe to repeat; a lost lease is left to its new owner)."""
        self._done.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(self.ttl)
        try:
            self.store.release_lease(self.run_id, self.token)
        except BackendUnavailable as exc:  # it lapses by itself
            LOG.info("run %s: lease not given back (%s); it lapses by itself", self.run_id, exc)

    def __enter__(self) -> Lease:
        return self.take()

    def __exit__(self, *exc_info: Any) -> None:
        self.release()

    @property
    def fence(self) -> tuple[str, int] | None:
        """The ZooKeeper condition ``(lease node, version)`` others' writes of the run can check too
        (a conductor's hold); None for a store without one. LeaseLost once the lease is lost: a
        write made without the condition would pass over the new owner's."""
        if self.lost:
            raise LeaseLost(self.run_id, "lost")
        fence_of = getattr(self.store, "fence_of", None)
        if fence_of is None:
            return None
        fence: tuple[str, int] | None = fence_of(self.run_id)
        return fence

    @property
    def lost(self) -> bool:
        """True once the store said another owner took the lease."""
        return self._lost.is_set()

    def may_start(self) -> bool:
        """Whether a task may start now: no round trip, only what this process knows."""
        return not self._lost.is_set() and time.monotonic() < self._valid_until and self.store.lease_usable(self.run_id)

    def check(self) -> None:
        """Raise LeaseLost unless a task may start now."""
        if not self.may_start():
            raise LeaseLost(self.run_id, "lost" if self.lost else "not renewed in time")

    def mark_lost(self, why: str) -> None:
        """Record that the lease is gone and tell who asked (the engine stops starting tasks)."""
        if self._lost.is_set():
            return
        self._lost.set()
        LOG.warning("run %s: lease lost (%s); starting no more tasks", self.run_id, why)
        for callback in list(self.on_lost):
            try:
                callback()
            except Exception:  # stopping must not kill the heartbeat
                LOG.exception("run %s: stopping after a lost lease failed", self.run_id)

    def wait_startable(self, bound: float) -> bool:
        """Block until a task may start (True), or the lease is lost or ``bound`` seconds pass (False).

        A store cut off for less than ``bound`` is a pause, not a failure: the engine thread waits
        here while the tasks in flight go on, and continues once the lease is renewed.
        """
        deadline = time.monotonic() + bound
        while not self.may_start():
            if self.lost or time.monotonic() >= deadline:
                return False
            if self.store.lease_usable(self.run_id) and time.monotonic() >= self._valid_until:
                self._renew()
            self._done.wait(0.05)
        return True

    def _renew(self) -> bool:
        started = time.monotonic()
        try:
            good_for = self.store.renew_lease(self.run_id, self.token, self.ttl)
        except LeaseLost as exc:
            self.mark_lost(str(exc))
            return False
        except BackendUnavailable as exc:
            LOG.info("run %s: lease not renewed (%s); retrying", self.run_id, exc)
            return True
        self._valid_until = started + good_for
        return True

    def _heartbeat(self) -> None:
        while not self._done.wait(self.ttl * self.RENEW_EVERY):
            if not self._renew():
                return
