"""TaskFlow persistence in one SQLite file, on the standard library's ``sqlite3``.

Why not TaskFlow's SQLAlchemy backend on SQLite: it costs 44-60 ms per task, CPU-bound even on
tmpfs (each of ~4 connections per task rebuilds the table metadata, ~5 ms each; each update first
reads and decodes the stored row) and its RSS grew to ~700 MB for 1000 tasks. Here:

* one ``sqlite3`` connection per backend, reused by every TaskFlow ``Connection`` (they are cheap
  views) and serialised with a lock, since the parallel engine calls from several threads;
* WAL journal, ``synchronous=NORMAL``: a commit is written to the WAL file before the call returns,
  so it survives ``kill -9`` of the process (not a power cut: set ``synchronous: FULL`` for that);
* identity (uuid, name, type, parent) in columns, mutable state in one JSON column, so updating an
  atom -- what the engine does ~4 times per task -- is one ``UPDATE`` with no read first (see
  ``_codec`` for why the update's own state is exactly TaskFlow's merged state);
* the schema is created on first use; ``upgrade()`` is a no-op after that;
* runs have leases (:mod:`opsflow.engines.lease`) in a ``leases`` table; once this backend took a
  run's lease, each of its writes of that run checks, in the same statement or transaction, that
  the lease row still carries its token (kept in a ``TEMP`` table of the one connection), and
  raises :class:`~opsflow.errors.LeaseLost` if another process has taken the run over.

Configuration: ``{"path": "/abs/file.db", "synchronous": "NORMAL"}``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from oslo_utils import strutils
from taskflow import exceptions as tf_exc
from taskflow.persistence import base, models

from opsflow.engines.lease import Holder, LeaseRecord
from opsflow.engines.persistence import _codec, _sqlite_facts
from opsflow.errors import LeaseLost, RunOwned, StateNotFound, StorageUnavailable

__all__ = ["SQLiteBackend"]

LOG = logging.getLogger(__name__)

#: Bumped when the tables change; stored in ``PRAGMA user_version``.
SCHEMA_VERSION = 1
#: Accepted values of the ``synchronous`` setting (SQLite's own names).
SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS logbooks (
    uuid TEXT PRIMARY KEY NOT NULL, name TEXT, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS flowdetails (
    uuid TEXT PRIMARY KEY NOT NULL, book_uuid TEXT NOT NULL, name TEXT, state TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS flowdetails_book ON flowdetails (book_uuid);
CREATE TABLE IF NOT EXISTS atomdetails (
    uuid TEXT PRIMARY KEY NOT NULL, flow_uuid TEXT NOT NULL, name TEXT, type TEXT NOT NULL,
    state TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS atomdetails_flow ON atomdetails (flow_uuid);
"""

_UPSERT_ATOM = (
    "INSERT INTO atomdetails (uuid, flow_uuid, name, type, state) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (uuid) DO UPDATE SET state = excluded.state WHERE type = excluded.type"
)
_ATOM_COLUMNS = "a.uuid, a.flow_uuid, a.name, a.type, a.state"

#: Leases live in their own table, created on every open (``IF NOT EXISTS``), so adding it needs no
#: schema version; ``fences`` is per connection: the runs this process leased and their tokens.
_LEASE_SCHEMA = """
CREATE TABLE IF NOT EXISTS leases (
    run_id TEXT PRIMARY KEY NOT NULL, token INTEGER NOT NULL, holder TEXT, expires REAL NOT NULL);
CREATE TEMP TABLE IF NOT EXISTS fences (run_id TEXT PRIMARY KEY NOT NULL, token INTEGER NOT NULL);
"""
#: True (1) when a flow's writes are fenced by this connection and its lease moved on to another owner.
_FENCED_OUT = (
    "EXISTS (SELECT 1 FROM temp.fences f WHERE f.run_id = {flow} "
    "AND f.token IS NOT (SELECT l.token FROM leases l WHERE l.run_id = f.run_id))"
)
#: An atom update, refused (no row changed) when the run's lease moved on from this connection.
_UPDATE_ATOM = ("UPDATE atomdetails SET state = ? WHERE uuid = ? AND type = ? AND NOT "
                + _FENCED_OUT.format(flow="atomdetails.flow_uuid"))


class SQLiteBackend(base.Backend):  # type: ignore[misc]
    """A TaskFlow backend keeping logbooks, flow details and atom details in one SQLite file."""

    def __init__(self, conf: dict[str, Any]) -> None:
        super().__init__(conf)
        path = self._conf.get("path")
        if not path:
            raise StorageUnavailable(
                "the opsflow SQLite backend needs a 'path' (for example sqlite:///var/lib/opsflow/state.db)"
            )
        self.path = Path(path)
        self.synchronous = str(self._conf.get("synchronous", "NORMAL")).upper()
        if self.synchronous not in SYNCHRONOUS_MODES:
            raise StorageUnavailable(
                f"synchronous={self.synchronous!r} for {self.path} is not one of {', '.join(SYNCHRONOUS_MODES)}"
            )
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        #: Whether a missing file is created (``run``) or refused (``flows list``, ``resume``...).
        self.create = strutils.bool_from_string(self._conf.get("create", True), default=True)
        #: Runs whose lease this backend holds -> token (mirrored in the connection's TEMP table).
        self._fences: dict[str, int] = {}

    def get_connection(self) -> Connection:
        """Return a view sharing this backend's single ``sqlite3`` connection (opened on first use)."""
        with self.locked():
            pass
        return Connection(self)

    def close(self) -> None:
        """Close the file; a later ``get_connection`` opens it again."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    @contextlib.contextmanager
    def locked(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock and yield the connection (autocommit: each statement commits)."""
        with self._lock:
            with self._mapped_errors():
                yield self._db if self._db is not None else self._open()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock and run the body as one transaction, rolled back if it raises."""
        with self.locked() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _open(self) -> sqlite3.Connection:
        if not self.create and not self.path.is_file():
            raise StateNotFound(str(self.path))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10.0)
        except (OSError, sqlite3.Error) as exc:
            raise StorageUnavailable(
                f"cannot open the SQLite state file {self.path}: {exc}; check that its directory exists "
                f"and is writable by this user"
            ) from exc
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={self.synchronous}")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                db.close()
                raise StorageUnavailable(
                    f"SQLite state file {self.path} has schema version {version}, newer than this opsflow "
                    f"knows ({SCHEMA_VERSION}); upgrade opsflow to read it"
                )
            if version < SCHEMA_VERSION:
                db.executescript(_SCHEMA)
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            db.executescript(_sqlite_facts.SCHEMA)
            self._open_leases(db)
        except sqlite3.Error:
            db.close()
            raise
        LOG.debug("opened %s (WAL, synchronous=%s)", self.path, self.synchronous)
        self._db = db
        return db

    # -- facts beside TaskFlow's tables (signals, summaries, damage): see _sqlite_facts -------

    def run_ids(self) -> list[str]:
        """Ids of every stored logbook, without decoding any of them."""
        return _sqlite_facts.run_ids(self)

    def locate_damage(self, run_id: str) -> tuple[str, str] | None:
        """The first row of the run that does not decode, and why; None if every row does."""
        return _sqlite_facts.locate_damage(self, run_id)

    def append_signal(self, run_id: str, name: str, sent_at: float, sender: str) -> int:
        """Store one signal as a row of its own; return its sequence number."""
        return _sqlite_facts.append_signal(self, run_id, name, sent_at, sender)

    def signals_of(self, run_id: str) -> list[tuple[int, str, float, str]]:
        """The run's signals as (seq, name, sent_at, sender), oldest first."""
        return _sqlite_facts.signals_of(self, run_id)

    def drop_signals(self, run_ids: Sequence[str]) -> None:
        """Delete these runs' signal rows."""
        _sqlite_facts.drop_signals(self, run_ids)

    def save_summaries(self, summaries: list[dict[str, Any]]) -> None:
        """Store (or replace) pruned runs' summaries, one row each."""
        _sqlite_facts.save_summaries(self, summaries)

    def summaries(self) -> list[dict[str, Any]]:
        """Every stored summary of a pruned run."""
        return _sqlite_facts.summaries(self)

    # -- leases (opsflow.engines.lease.LeaseStore) -----------------------------------------------

    def _open_leases(self, db: sqlite3.Connection) -> None:
        db.executescript(_LEASE_SCHEMA)
        db.executemany("INSERT OR REPLACE INTO temp.fences (run_id, token) VALUES (?, ?)", self._fences.items())

    def take_lease(self, run_id: str, holder: Holder, ttl: float) -> tuple[int, float]:
        """Take the run's lease if free, expired or held by a dead local process; RunOwned if not."""
        with self.transaction() as db:
            now = time.time()
            row = db.execute("SELECT token, holder, expires FROM leases WHERE run_id = ?", (run_id,)).fetchone()
            if row is not None:
                other = Holder.from_dict(json.loads(row[1])) if row[1] else None
                if other is not None and row[2] > now and not other.is_dead():
                    raise RunOwned(run_id, other.describe(), row[2])
            token = (row[0] if row is not None else 0) + 1
            db.execute(
                "INSERT INTO leases (run_id, token, holder, expires) VALUES (?, ?, ?, ?) ON CONFLICT (run_id) "
                "DO UPDATE SET token = excluded.token, holder = excluded.holder, expires = excluded.expires",
                (run_id, token, json.dumps(holder.to_dict()), now + ttl),
            )
            db.execute("INSERT OR REPLACE INTO temp.fences (run_id, token) VALUES (?, ?)", (run_id, token))
            self._fences[run_id] = token
        return token, ttl

    def renew_lease(self, run_id: str, token: int, ttl: float) -> float:
        """Push the expiry ``ttl`` seconds out; LeaseLost if another process took the run."""
        with self.locked() as db:
            renewed = db.execute("UPDATE leases SET expires = ? WHERE run_id = ? AND token = ?",
                                 (time.time() + ttl, run_id, token)).rowcount
        if not renewed:
            raise LeaseLost(run_id, f"its lease in {self.path} has a newer owner")
        return ttl

    def release_lease(self, run_id: str, token: int) -> None:
        """Give the lease up (the token stays, so the next owner's is higher).

        The fence stays: an engine thread may still write after its owner let the run go, and once
        another process has taken the run those writes must be refused, not land over its state.
        """
        with self.transaction() as db:
            db.execute("UPDATE leases SET holder = NULL, expires = 0 WHERE run_id = ? AND token = ?", (run_id, token))

    def read_lease(self, run_id: str) -> LeaseRecord | None:
        """The run's stored lease, if it ever had one."""
        return self.read_leases([run_id]).get(run_id)

    def read_leases(self, run_ids: list[str] | None = None) -> dict[str, LeaseRecord]:
        """Stored leases (of these runs, or all), by run id."""
        with self.locked() as db:
            if run_ids is None:
                rows = db.execute("SELECT run_id, token, holder, expires FROM leases").fetchall()
            else:
                rows = [row for run_id in run_ids for row in db.execute(
                    "SELECT run_id, token, holder, expires FROM leases WHERE run_id = ?", (run_id,))]
        now = time.time()
        found = {}
        for run_id, token, holder_text, expires in rows:
            holder = Holder.from_dict(json.loads(holder_text)) if holder_text else None
            live = holder is not None and expires > now and not holder.is_dead()
            found[run_id] = LeaseRecord(run_id, holder, token, expires if holder is not None else None, live)
        return found

    def lease_usable(self, run_id: str) -> bool:
        """Always: an SQLite lease is good until it expires."""
        return True

    def drop_leases(self, run_ids: Sequence[str]) -> None:
        """Delete these runs' lease rows, but each a holder still has."""
        now = time.time()
        with self.locked() as db:
            db.executemany("DELETE FROM leases WHERE run_id = ? AND holder IS NULL OR run_id = ? AND expires < ?",
                           [(run_id, run_id, now) for run_id in run_ids])

    def fenced_out(self, db: sqlite3.Connection, flow_uuid: str) -> bool:
        """True when this connection leased the run and another process has taken it since (lock held)."""
        if flow_uuid not in self._fences:
            return False
        return bool(db.execute(f"SELECT {_FENCED_OUT.format(flow='?')}", (flow_uuid,)).fetchone()[0])

    def lease_lost(self, flow_uuid: str) -> LeaseLost:
        """The error for a write refused by the fence."""
        return LeaseLost(flow_uuid, f"its lease in {self.path} has a newer owner")

    @contextlib.contextmanager
    def _mapped_errors(self) -> Iterator[None]:
        """Turn sqlite3 errors into TaskFlow's, naming the file (TaskFlow retries StorageFailure)."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            raise StorageUnavailable(
                f"SQLite state file {self.path} failed: {exc}; check free disk space, permissions, "
                f"and that no other program holds a write lock on it"
            ) from exc


class Connection(base.Connection):  # type: ignore[misc]
    """TaskFlow's connection contract on a :class:`SQLiteBackend`; cheap to make and to close."""

    def __init__(self, backend: SQLiteBackend) -> None:
        self._backend = backend

    @property
    def backend(self) -> SQLiteBackend:
        """The backend this connection belongs to."""
        return self._backend

    def close(self) -> None:
        """Nothing to release: the backend owns the file."""

    def upgrade(self) -> None:
        """Create the schema if missing (it also happens on first use)."""
        with self._backend.locked():
            pass

    def validate(self) -> None:
        """Check that the file answers a query."""
        with self._backend.locked() as db:
            db.execute("SELECT 1").fetchone()

    def clear_all(self) -> None:
        """Delete every logbook, flow detail and atom detail."""
        with self._backend.transaction() as db:
            for table in ("atomdetails", "flowdetails", "logbooks"):
                db.execute(f"DELETE FROM {table}")

    def update_atom_details(self, atom_detail: Any) -> Any:
        """Overwrite a stored atom detail's state in one statement; ``NotFound`` if it is not stored."""
        atom_type = models.atom_detail_type(atom_detail)
        state = _codec.dumps(_codec.atom_state(atom_detail))
        with self._backend.locked() as db:
            changed = db.execute(_UPDATE_ATOM, (state, atom_detail.uuid, atom_type)).rowcount
            if not changed:
                row = db.execute("SELECT type, flow_uuid FROM atomdetails WHERE uuid = ?",
                                 (atom_detail.uuid,)).fetchone()
                if row is not None and self._backend.fenced_out(db, row[1]):
                    raise self._backend.lease_lost(row[1])
        if not changed:
            if row is None:
                raise tf_exc.NotFound(f"no atom detail with uuid {atom_detail.uuid!r} in {self._backend.path}")
            raise tf_exc.NotImplementedError(
                f"atom detail {atom_detail.uuid!r} is stored as {row[0]}, cannot merge a {atom_type} into it"
            )
        return atom_detail

    def update_flow_details(self, flow_detail: Any) -> Any:
        """Update a stored flow detail and upsert its atoms; return it with every stored atom."""
        with self._backend.transaction() as db:
            if self._backend.fenced_out(db, flow_detail.uuid):
                raise self._backend.lease_lost(flow_detail.uuid)
            rows = db.execute(
                "UPDATE flowdetails SET state = ? WHERE uuid = ? RETURNING name",
                (_codec.dumps(_codec.flow_state(flow_detail)), flow_detail.uuid),
            ).fetchall()
            if not rows:
                raise tf_exc.NotFound(f"no flow detail with uuid {flow_detail.uuid!r} in {self._backend.path}")
            self._upsert_atoms(db, flow_detail)
            stored = db.execute("SELECT count(*) FROM atomdetails WHERE flow_uuid = ?", (flow_detail.uuid,))
            if stored.fetchone()[0] == len(flow_detail):
                merged = models.FlowDetail(rows[0][0], flow_detail.uuid).update(flow_detail)
                return merged
            # Another writer added atoms this caller does not know of: hand back the stored whole.
            return self._load_flow(db, flow_detail.uuid, lazy=False)

    def save_logbook(self, book: Any) -> Any:
        """Insert or update a logbook with all its flow and atom details, in one transaction."""
        with self._backend.transaction() as db:
            rows = db.execute(
                "INSERT INTO logbooks (uuid, name, state) VALUES (?, ?, ?) "
                "ON CONFLICT (uuid) DO UPDATE SET state = excluded.state RETURNING name",
                (book.uuid, book.name, _codec.dumps(_codec.book_state(book))),
            ).fetchall()
            atoms = 0
            for flow in book:
                db.execute(
                    "INSERT INTO flowdetails (uuid, book_uuid, name, state) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (uuid) DO UPDATE SET state = excluded.state",
                    (flow.uuid, book.uuid, flow.name, _codec.dumps(_codec.flow_state(flow))),
                )
                self._upsert_atoms(db, flow)
                atoms += len(flow)
            counts = db.execute(
                "SELECT count(DISTINCT f.uuid), count(a.uuid) FROM flowdetails f "
                "LEFT JOIN atomdetails a ON a.flow_uuid = f.uuid WHERE f.book_uuid = ?",
                (book.uuid,),
            ).fetchone()
            if tuple(counts) != (len(book), atoms):
                return self._load_book(db, book.uuid, lazy=False)
        merged = models.LogBook(rows[0][0], uuid=book.uuid)
        for flow in book:
            merged.add(flow)
        return merged.merge(book)

    def destroy_logbook(self, book_uuid: str) -> None:
        """Delete a logbook with its flow and atom details; ``NotFound`` if it is not stored."""
        with self._backend.transaction() as db:
            db.execute(
                "DELETE FROM atomdetails WHERE flow_uuid IN (SELECT uuid FROM flowdetails WHERE book_uuid = ?)",
                (book_uuid,),
            )
            db.execute("DELETE FROM flowdetails WHERE book_uuid = ?", (book_uuid,))
            if not db.execute("DELETE FROM logbooks WHERE uuid = ?", (book_uuid,)).rowcount:
                raise tf_exc.NotFound(f"no logbook with uuid {book_uuid!r} in {self._backend.path}")

    def get_logbook(self, book_uuid: str, lazy: bool = False) -> Any:
        """Load a logbook (with its flows and atoms unless ``lazy``); ``NotFound`` if not stored."""
        with self._backend.locked() as db:
            return self._load_book(db, book_uuid, lazy)

    def get_logbooks(self, lazy: bool = False) -> Iterator[Any]:
        """Load every logbook."""
        with self._backend.locked() as db:
            uuids = [row[0] for row in db.execute("SELECT uuid FROM logbooks ORDER BY rowid")]
            books = [self._load_book(db, uuid, lazy) for uuid in uuids]
        return iter(books)

    def get_flows_for_book(self, book_uuid: str, lazy: bool = False) -> Iterator[Any]:
        """Load the flow details of a logbook; ``NotFound`` if the logbook is not stored."""
        with self._backend.locked() as db:
            self._require(db, "logbooks", book_uuid, "logbook")
            return iter(self._load_flows(db, book_uuid, lazy))

    def get_flow_details(self, fd_uuid: str, lazy: bool = False) -> Any:
        """Load a flow detail (with its atoms unless ``lazy``); ``NotFound`` if not stored."""
        with self._backend.locked() as db:
            return self._load_flow(db, fd_uuid, lazy)

    def get_atom_details(self, ad_uuid: str) -> Any:
        """Load an atom detail; ``NotFound`` if not stored."""
        with self._backend.locked() as db:
            row = db.execute(
                f"SELECT {_ATOM_COLUMNS} FROM atomdetails a WHERE a.uuid = ?", (ad_uuid,)
            ).fetchone()
        if row is None:
            raise tf_exc.NotFound(f"no atom detail with uuid {ad_uuid!r} in {self._backend.path}")
        return _atom(row)

    def get_atoms_for_flow(self, fd_uuid: str) -> Iterator[Any]:
        """Load the atom details of a flow detail; ``NotFound`` if the flow is not stored."""
        with self._backend.locked() as db:
            self._require(db, "flowdetails", fd_uuid, "flow detail")
            rows = db.execute(
                f"SELECT {_ATOM_COLUMNS} FROM atomdetails a WHERE a.flow_uuid = ? ORDER BY a.rowid", (fd_uuid,)
            ).fetchall()
        return iter([_atom(row) for row in rows])

    def _upsert_atoms(self, db: sqlite3.Connection, flow: Any) -> None:
        rows = [
            (atom.uuid, flow.uuid, atom.name, models.atom_detail_type(atom), _codec.dumps(_codec.atom_state(atom)))
            for atom in flow
        ]
        before = db.total_changes
        db.executemany(_UPSERT_ATOM, rows)
        if db.total_changes - before != len(rows):
            raise tf_exc.NotImplementedError(
                f"flow detail {flow.uuid!r} holds an atom detail of another type than the stored one "
                f"with the same uuid; TaskFlow cannot merge task and retry details"
            )

    def _require(self, db: sqlite3.Connection, table: str, uuid: str, what: str) -> None:
        if db.execute(f"SELECT 1 FROM {table} WHERE uuid = ?", (uuid,)).fetchone() is None:
            raise tf_exc.NotFound(f"no {what} with uuid {uuid!r} in {self._backend.path}")

    def _load_book(self, db: sqlite3.Connection, book_uuid: str, lazy: bool) -> Any:
        row = db.execute("SELECT name, state FROM logbooks WHERE uuid = ?", (book_uuid,)).fetchone()
        if row is None:
            raise tf_exc.NotFound(f"no logbook with uuid {book_uuid!r} in {self._backend.path}")
        book = _codec.load_book(book_uuid, row[0], json.loads(row[1]))
        if not lazy:
            updated_at = book.updated_at  # LogBook.add() stamps updated_at; keep the stored one
            for flow in self._load_flows(db, book_uuid, lazy=False):
                book.add(flow)
            book.updated_at = updated_at
        return book

    def _load_flows(self, db: sqlite3.Connection, book_uuid: str, lazy: bool) -> list[Any]:
        flows = [
            _codec.load_flow(uuid, name, json.loads(state))
            for uuid, name, state in db.execute(
                "SELECT uuid, name, state FROM flowdetails WHERE book_uuid = ? ORDER BY rowid", (book_uuid,)
            )
        ]
        if not lazy and flows:
            by_uuid = {flow.uuid: flow for flow in flows}
            for row in db.execute(
                f"SELECT {_ATOM_COLUMNS} FROM atomdetails a JOIN flowdetails f ON a.flow_uuid = f.uuid "
                "WHERE f.book_uuid = ? ORDER BY a.rowid",
                (book_uuid,),
            ):
                by_uuid[row[1]].add(_atom(row))
        return flows

    def _load_flow(self, db: sqlite3.Connection, fd_uuid: str, lazy: bool) -> Any:
        row = db.execute("SELECT name, state FROM flowdetails WHERE uuid = ?", (fd_uuid,)).fetchone()
        if row is None:
            raise tf_exc.NotFound(f"no flow detail with uuid {fd_uuid!r} in {self._backend.path}")
        flow = _codec.load_flow(fd_uuid, row[0], json.loads(row[1]))
        if not lazy:
            for atom_row in db.execute(
                f"SELECT {_ATOM_COLUMNS} FROM atomdetails a WHERE a.flow_uuid = ? ORDER BY a.rowid", (fd_uuid,)
            ):
                flow.add(_atom(atom_row))
        return flow


def _atom(row: tuple[str, str, str, str, str]) -> Any:
    uuid, _flow_uuid, name, atom_type, state = row
    return _codec.load_atom(uuid, name, atom_type, json.loads(state))
