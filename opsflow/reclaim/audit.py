"""Reclaim's audit log and its one-time facts, kept beside the runs in the same state store.

Everything here is append-only: an entry, once written, is never changed or removed, so no stale
writer can erase a fact. Besides the log (who, what, why, when) the store keeps facts whose first
writer wins, each a primary key (SQLite) or a node created once (ZooKeeper):

``claim``     server + cycle -> run: at most one reclaim run per server and cycle, however many
              sweeps race, and also when a sweep dies halfway
``close``     server + cycle: the run ended; the next sweep may start cycle + 1
``decide``    server + cycle -> ``keep`` or ``act``: the owner's keep and the final action race for
              it, and exactly one wins, so a keep is either honoured or refused with a reason
``nonce``     a keep link's nonce: a link works once

``sqlite:///PATH`` keeps them in tables of the state file itself; ``zookeeper://HOSTS/ROOT/state``
in nodes under ``ROOT/reclaim``.
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import json
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from opsflow.errors import BackendUnavailable, ConfigError

_T = TypeVar("_T")

__all__ = ["AuditStore", "Claim", "Event", "kept_until", "open_store"]


@dataclasses.dataclass(frozen=True)
class Event:
    """One entry of the audit log."""

    #: Epoch seconds (the clock of whoever wrote it).
    at: float
    #: The server's id.
    server: str
    #: What happened: ``marked``, ``notified``, ``kept``, ``keep-refused``, ``hibernated``, ...
    action: str
    #: Who did it: ``reclaim`` (a run), ``operator:NAME``, ``owner:link``.
    actor: str
    #: Why, in a sentence.
    reason: str = ""
    #: The run it belongs to, if any.
    run_id: str = ""
    #: Anything else (``until`` of a keep, the stage, the recipients).
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe mapping."""
        return {**dataclasses.asdict(self), "details": dict(self.details)}


@dataclasses.dataclass(frozen=True)
class Claim:
    """The latest cycle of one server."""

    server: str
    cycle: int
    run_id: str
    #: Whether its run has ended.
    closed: bool


class AuditStore(abc.ABC):
    """The log and the one-time facts (see the module docstring)."""

    @abc.abstractmethod
    def append(self, event: Event) -> None:
        """Add an entry to the log."""

    @abc.abstractmethod
    def events(self, server: str | None = None) -> list[Event]:
        """The log (of one server), oldest first."""

    @abc.abstractmethod
    def claim(self, server: str, cycle: int, run_id: str) -> bool:
        """Claim the cycle for ``run_id``; False when someone claimed it already."""

    @abc.abstractmethod
    def close_cycle(self, server: str, cycle: int) -> None:
        """Record that the cycle's run ended (safe to repeat)."""

    @abc.abstractmethod
    def claims(self) -> dict[str, Claim]:
        """The latest claim of every server that ever had one (cheap: no per-server reads)."""

    @abc.abstractmethod
    def decide(self, server: str, cycle: int, decision: str) -> str:
        """Record ``decision`` unless the cycle has one; returns the decision that holds."""

    @abc.abstractmethod
    def decision(self, server: str, cycle: int) -> str | None:
        """The cycle's decision, if one was made."""

    @abc.abstractmethod
    def use_nonce(self, nonce: str) -> bool:
        """Record a link's nonce as used; False when it was used before."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections."""

    def __enter__(self) -> AuditStore:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def keep_until(self, server: str, now: float) -> float | None:
        """The latest keep of ``server`` still in force at ``now``, or None."""
        until = kept_until(self.events(server)).get(server)
        return until if until is not None and until > now else None


class SQLiteAudit(AuditStore):
    """The store as tables of the state's SQLite file."""

    _SCHEMA = """
    CREATE TABLE IF NOT EXISTS reclaim_audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL, server TEXT,
        action TEXT, actor TEXT, reason TEXT, run_id TEXT, details TEXT);
    CREATE INDEX IF NOT EXISTS reclaim_audit_server ON reclaim_audit (server);
    CREATE TABLE IF NOT EXISTS reclaim_claims (server TEXT, cycle INTEGER, run_id TEXT, PRIMARY KEY (server, cycle));
    CREATE TABLE IF NOT EXISTS reclaim_closed (server TEXT, cycle INTEGER, PRIMARY KEY (server, cycle));
    CREATE TABLE IF NOT EXISTS reclaim_decisions (server TEXT, cycle INTEGER, decision TEXT,
        PRIMARY KEY (server, cycle));
    CREATE TABLE IF NOT EXISTS reclaim_nonces (nonce TEXT PRIMARY KEY, at REAL);
    """

    def __init__(self, path: str) -> None:
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
            self._db.executescript(self._SCHEMA)
        except sqlite3.Error as exc:
            raise BackendUnavailable(f"cannot open reclaim's audit tables in {path}: {exc}") from exc

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _insert_once(self, sql: str, args: tuple[Any, ...]) -> bool:
        try:
            self._run(sql, args)
        except sqlite3.IntegrityError:
            return False
        return True

    def append(self, event: Event) -> None:
        self._run("INSERT INTO reclaim_audit (at, server, action, actor, reason, run_id, details) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?)", (event.at, event.server, event.action, event.actor, event.reason,
                                                   event.run_id, json.dumps(dict(event.details))))

    def events(self, server: str | None = None) -> list[Event]:
        where, args = ("WHERE server = ?", (server,)) if server else ("", ())
        rows = self._run(f"SELECT at, server, action, actor, reason, run_id, details FROM reclaim_audit {where} "
                         "ORDER BY seq", args)
        return [Event(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6] or "{}")) for r in rows]

    def claim(self, server: str, cycle: int, run_id: str) -> bool:
        return self._insert_once("INSERT INTO reclaim_claims VALUES (?, ?, ?)", (server, cycle, run_id))

    def close_cycle(self, server: str, cycle: int) -> None:
        self._insert_once("INSERT INTO reclaim_closed VALUES (?, ?)", (server, cycle))

    def claims(self) -> dict[str, Claim]:
        closed = set(self._run("SELECT server, cycle FROM reclaim_closed"))
        found: dict[str, Claim] = {}
        for server, cycle, run_id in self._run("SELECT server, cycle, run_id FROM reclaim_claims ORDER BY cycle"):
            found[server] = Claim(server, cycle, run_id, (server, cycle) in closed)
        return found

    def decide(self, server: str, cycle: int, decision: str) -> str:
        self._insert_once("INSERT INTO reclaim_decisions VALUES (?, ?, ?)", (server, cycle, decision))
        rows = self._run("SELECT decision FROM reclaim_decisions WHERE server = ? AND cycle = ?", (server, cycle))
        return str(rows[0][0])

    def decision(self, server: str, cycle: int) -> str | None:
        rows = self._run("SELECT decision FROM reclaim_decisions WHERE server = ? AND cycle = ?", (server, cycle))
        return str(rows[0][0]) if rows else None

    def use_nonce(self, nonce: str) -> bool:
        return self._insert_once("INSERT INTO reclaim_nonces VALUES (?, ?)", (nonce, time.time()))

    def close(self) -> None:
        self._db.close()


def _mapped(method: Callable[..., _T]) -> Callable[..., _T]:
    """Turn kazoo's failures into BackendUnavailable naming what failed (the one boundary)."""

    @functools.wraps(method)
    def wrapper(self: ZooKeeperAudit, *args: Any, **kwargs: Any) -> _T:
        from kazoo import exceptions as k_exc
        from kazoo.handlers.threading import KazooTimeoutError

        try:
            return method(self, *args, **kwargs)
        except (k_exc.KazooException, KazooTimeoutError) as exc:
            raise BackendUnavailable(f"reclaim's audit store in ZooKeeper ({self._root}) failed in "
                                     f"{method.__name__}: {exc.__class__.__name__} {exc}; check that the ensemble "
                                     f"is up") from exc

    return wrapper


class ZooKeeperAudit(AuditStore):
    """The store as nodes under ``ROOT/reclaim``: log entries are sequential nodes, facts are node names."""

    #: Child folders (one node per fact).
    LOG, CLAIMS, CLOSED, DECISIONS, NONCES = "log", "claims", "closed", "decisions", "nonces"
    #: Separator of server and cycle in a node name.
    SEPARATOR = "~"

    def __init__(self, hosts: str, root: str, timeout: float = 10.0) -> None:
        from kazoo.client import KazooClient
        from kazoo.handlers.threading import KazooTimeoutError

        self._client = KazooClient(hosts=hosts, timeout=timeout)
        try:
            self._client.start(timeout=max(timeout, 5.0))
        except KazooTimeoutError as exc:
            self._client.close()
            raise BackendUnavailable(f"cannot reach ZooKeeper at {hosts} for reclaim's audit log") from exc
        self._root = root.rstrip("/") + "/reclaim"
        for folder in (self.LOG, self.CLAIMS, self.CLOSED, self.DECISIONS, self.NONCES):
            self._client.ensure_path(f"{self._root}/{folder}")

    def _path(self, folder: str, name: str = "") -> str:
        return f"{self._root}/{folder}" + (f"/{name}" if name else "")

    def _create_once(self, path: str, value: bytes = b"") -> bool:
        from kazoo.exceptions import NodeExistsError

        try:
            self._client.create(path, value)
        except NodeExistsError:
            return False
        return True

    @_mapped
    def append(self, event: Event) -> None:
        self._client.create(self._path(self.LOG, "e-"), json.dumps(event.to_json()).encode(), sequence=True)

    @_mapped
    def events(self, server: str | None = None) -> list[Event]:
        found = []
        for name in sorted(self._client.get_children(self._path(self.LOG))):
            data, _stat = self._client.get(self._path(self.LOG, name))
            event = Event(**json.loads(data))
            if server is None or event.server == server:
                found.append(event)
        return found

    @_mapped
    def claim(self, server: str, cycle: int, run_id: str) -> bool:
        return self._create_once(self._path(self.CLAIMS, f"{server}{self.SEPARATOR}{cycle}"), run_id.encode())

    @_mapped
    def close_cycle(self, server: str, cycle: int) -> None:
        self._create_once(self._path(self.CLOSED, f"{server}{self.SEPARATOR}{cycle}"))

    @_mapped
    def claims(self) -> dict[str, Claim]:
        from opsflow.reclaim import sweep

        closed = set(self._client.get_children(self._path(self.CLOSED)))
        found: dict[str, Claim] = {}
        for name in sorted(self._client.get_children(self._path(self.CLAIMS)), key=_cycle_of):
            server, _, cycle = name.rpartition(self.SEPARATOR)
            found[server] = Claim(server, int(cycle), sweep.run_id_for(server, int(cycle)), name in closed)
        return found

    @_mapped
    def decide(self, server: str, cycle: int, decision: str) -> str:
        path = self._path(self.DECISIONS, f"{server}{self.SEPARATOR}{cycle}")
        self._create_once(path, decision.encode())
        data, _stat = self._client.get(path)
        return bytes(data).decode()

    @_mapped
    def decision(self, server: str, cycle: int) -> str | None:
        from kazoo.exceptions import NoNodeError

        try:
            data, _stat = self._client.get(self._path(self.DECISIONS, f"{server}{self.SEPARATOR}{cycle}"))
        except NoNodeError:
            return None
        return bytes(data).decode()

    @_mapped
    def use_nonce(self, nonce: str) -> bool:
        return self._create_once(self._path(self.NONCES, nonce))

    def close(self) -> None:
        self._client.stop()
        self._client.close()


def _cycle_of(name: str) -> int:
    return int(name.rpartition(ZooKeeperAudit.SEPARATOR)[2] or 0)


def open_store(state_url: str) -> AuditStore:
    """The audit store beside the runs of ``state_url`` (``sqlite:///PATH`` or ``zookeeper://...``)."""
    parts = urllib.parse.urlsplit(state_url)
    if parts.scheme == "sqlite":
        return SQLiteAudit("/" + urllib.parse.unquote(parts.path).lstrip("/"))
    if parts.scheme == "zookeeper":
        options = dict(urllib.parse.parse_qsl(parts.query))
        root = parts.path.rstrip("/")
        root = root.removesuffix("/state") or "/opsflow"
        return ZooKeeperAudit(parts.netloc, root, float(options.get("timeout", 10.0)))
    raise ConfigError(f"reclaim keeps its audit log beside the runs, in sqlite:///PATH or zookeeper://HOSTS/ROOT; "
                      f"{state_url!r} is neither")


def kept_until(events: Iterable[Event]) -> dict[str, float]:
    """Server -> until when its latest keep holds (a ``released`` entry ends the keeps before it)."""
    found: dict[str, float] = {}
    for event in events:
        if event.action == "kept":
            found[event.server] = max(found.get(event.server, 0.0), float(event.details.get("until", 0)))
        elif event.action == "released":
            found.pop(event.server, None)
    return found
