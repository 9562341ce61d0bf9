"""Signals as facts: each one appended to the store on its own, never written into a run's metadata.

A signal (``opsflow signal RUN NAME``, an owner's "keep") used to be added to the run's flow-detail
metadata: a read-modify-write whose older copy the engine's next state save wrote back, erasing
it. Here each signal is one fact of its own, which no state save touches:

* SQLite: one row of the ``signals`` table (run id, sequence, name, time sent, sender);
* ZooKeeper: one sequential node ``<state root>/signals/<run>/sig-NNNNNNNNNN`` holding the rest;
* any other TaskFlow backend (``memory://``, tests): a list kept beside the backend object.

Whoever reaches a wait reads the facts then (:func:`names`), so a signal sent at any moment --
before the run starts, while a task runs, between two state saves, while the run is held waiting
or suspended -- is seen by the wait it is for. Signals have set semantics: sending one twice is
harmless, and a wait ends on the first of its name.

Runs stored before this module kept their signals in ``RunMeta.signals``; :func:`names` still
reads those.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
import weakref
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from taskflow.persistence import base as tf_base

__all__ = ["Signal", "SignalStore", "drop", "names", "of", "send", "sender"]


@dataclasses.dataclass(frozen=True)
class Signal:
    """One signal delivered to a run."""

    #: The run it was sent to.
    run_id: str
    #: Its place among the run's signals (grows with each one; gaps are possible).
    seq: int
    #: The signal's name (``go``, ``keep``).
    name: str
    #: When it was sent (epoch seconds, sender's clock).
    sent_at: float
    #: Who sent it (``user@host pid N`` or a conductor's name).
    sender: str


@runtime_checkable
class SignalStore(Protocol):
    """What a persistence backend offers to keep signals as facts (opsflow's SQLite and ZooKeeper)."""

    def append_signal(self, run_id: str, name: str, sent_at: float, sender: str) -> int:
        """Store one signal; return its sequence number."""

    def signals_of(self, run_id: str) -> list[tuple[int, str, float, str]]:
        """The run's signals as (seq, name, sent_at, sender), oldest first; empty if none."""

    def drop_signals(self, run_ids: Sequence[str]) -> None:
        """Forget these runs' signals (their records are being pruned)."""


class _Fallback:
    """Signals beside a backend that has no place for them (TaskFlow's in-memory backend)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._signals: dict[str, list[tuple[int, str, float, str]]] = {}

    def append_signal(self, run_id: str, name: str, sent_at: float, sender: str) -> int:
        with self._lock:
            found = self._signals.setdefault(run_id, [])
            found.append((len(found) + 1, name, sent_at, sender))
            return len(found)

    def signals_of(self, run_id: str) -> list[tuple[int, str, float, str]]:
        with self._lock:
            return list(self._signals.get(run_id, ()))

    def drop_signals(self, run_ids: Sequence[str]) -> None:
        with self._lock:
            for run_id in run_ids:
                self._signals.pop(run_id, None)


_FALLBACKS: weakref.WeakKeyDictionary[Any, _Fallback] = weakref.WeakKeyDictionary()
_FALLBACKS_LOCK = threading.Lock()


def _store(backend: tf_base.Backend) -> SignalStore:
    if isinstance(backend, SignalStore):
        return backend
    with _FALLBACKS_LOCK:
        return _FALLBACKS.setdefault(backend, _Fallback())


def sender() -> str:
    """This process as a sender: ``user@host pid N``."""
    try:
        user = os.getlogin()
    except OSError:
        user = os.environ.get("USER", "?")
    return f"{user}@{socket.gethostname()} pid {os.getpid()}"


def send(backend: tf_base.Backend, run_id: str, name: str, sent_at: float, who: str | None = None) -> Signal:
    """Append one signal for ``run_id``; nothing already stored is read or rewritten."""
    who = who or sender()
    seq = _store(backend).append_signal(run_id, name, sent_at, who)
    return Signal(run_id, seq, name, sent_at, who)


def of(backend: tf_base.Backend, run_id: str) -> list[Signal]:
    """Every signal stored for ``run_id``, oldest first."""
    return [Signal(run_id, seq, name, sent_at, who) for seq, name, sent_at, who in _store(backend).signals_of(run_id)]


def names(backend: tf_base.Backend, run_id: str, legacy: Sequence[str] = ()) -> frozenset[str]:
    """Names of the signals ``run_id`` has received (``legacy``: those its metadata kept, for old runs)."""
    return frozenset(legacy).union(signal.name for signal in of(backend, run_id))


def drop(backend: tf_base.Backend, run_ids: Sequence[str]) -> None:
    """Forget every signal of these runs (retention prunes them)."""
    _store(backend).drop_signals(run_ids)
