"""Facts opsflow keeps beside TaskFlow's tables in SQLite: signals, pruned runs' summaries, damage.

Kept apart from :mod:`impl_sqlite` (TaskFlow's contract) so that each reads in one sitting;
:class:`~opsflow.engines.persistence.impl_sqlite.SQLiteBackend` offers them as methods
(:mod:`opsflow.engines.signals`, :mod:`opsflow.engines.retention`, :mod:`opsflow.engines.records`
call those). Their tables are created on every open if missing (:data:`SCHEMA`), so a file of an
older opsflow gains them without a schema bump.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from opsflow.engines.persistence import _codec

if TYPE_CHECKING:
    from opsflow.engines.persistence.impl_sqlite import SQLiteBackend

__all__ = ["SCHEMA", "append_signal", "drop_signals", "locate_damage", "run_ids", "save_summaries", "signals_of",
           "summaries"]

LOG = logging.getLogger(__name__)

#: The tables: one row per signal (never rewritten), one small row per pruned run.
SCHEMA = """
CREATE TABLE IF NOT EXISTS signals (
    run_id TEXT NOT NULL, seq INTEGER NOT NULL, name TEXT NOT NULL, sent_at REAL NOT NULL,
    sender TEXT NOT NULL, PRIMARY KEY (run_id, seq));
CREATE TABLE IF NOT EXISTS summaries (
    run_id TEXT PRIMARY KEY NOT NULL, summary TEXT NOT NULL);
"""


# -- damaged records (opsflow.engines.records lists the rest) ------------------------------


def run_ids(backend: SQLiteBackend) -> list[str]:
    """Ids of every stored logbook, without decoding any of them."""
    with backend.locked() as db:
        return [str(row[0]) for row in db.execute("SELECT uuid FROM logbooks ORDER BY rowid")]


def locate_damage(backend: SQLiteBackend, run_id: str) -> tuple[str, str] | None:
    """The first row of the run that does not decode, and why; None if every row does."""
    with backend.locked() as db:
        books = db.execute("SELECT 'logbooks', uuid, name, '', state FROM logbooks WHERE uuid = ?",
                           (run_id,)).fetchall()
        flows = db.execute("SELECT 'flowdetails', uuid, name, '', state FROM flowdetails WHERE book_uuid = ?",
                           (run_id,)).fetchall()
        atoms = db.execute("SELECT 'atomdetails', a.uuid, a.name, a.type, a.state FROM atomdetails a "
                           "JOIN flowdetails f ON a.flow_uuid = f.uuid WHERE f.book_uuid = ?", (run_id,)).fetchall()
    for table, uuid, name, atom_type, state in [*books, *flows, *atoms]:
        try:
            data = json.loads(state)
            if table == "logbooks":
                _codec.load_book(uuid, name, data)
            elif table == "flowdetails":
                _codec.load_flow(uuid, name, data)
            else:
                _codec.load_atom(uuid, name, atom_type, data)
        except Exception as exc:  # whatever a corrupted row makes the decoder raise
            return f"{table} row {uuid} in {backend.path}", f"{type(exc).__name__}: {exc}"
    return None


# -- signals (opsflow.engines.signals): one row each, never rewritten ----------------------


def append_signal(backend: SQLiteBackend, run_id: str, name: str, sent_at: float, sender: str) -> int:
    """Insert one signal row for ``run_id``; return its sequence number."""
    with backend.transaction() as db:
        seq = int(db.execute("SELECT coalesce(max(seq), 0) + 1 FROM signals WHERE run_id = ?",
                             (run_id,)).fetchone()[0])
        db.execute("INSERT INTO signals (run_id, seq, name, sent_at, sender) VALUES (?, ?, ?, ?, ?)",
                   (run_id, seq, name, sent_at, sender))
    return seq


def signals_of(backend: SQLiteBackend, run_id: str) -> list[tuple[int, str, float, str]]:
    """The run's signal rows as (seq, name, sent_at, sender), oldest first."""
    with backend.locked() as db:
        rows = db.execute("SELECT seq, name, sent_at, sender FROM signals WHERE run_id = ? ORDER BY seq",
                          (run_id,)).fetchall()
    return [(int(seq), str(name), float(sent_at), str(sender)) for seq, name, sent_at, sender in rows]


def drop_signals(backend: SQLiteBackend, run_ids: Sequence[str]) -> None:
    """Delete these runs' signal rows."""
    with backend.locked() as db:
        db.executemany("DELETE FROM signals WHERE run_id = ?", [(run_id,) for run_id in run_ids])


# -- summaries of pruned runs (opsflow.engines.retention): one small row each ----------------


def save_summaries(backend: SQLiteBackend, summaries: list[dict[str, Any]]) -> None:
    """Store (or replace) the summaries of pruned runs, each a JSON object with its ``id``."""
    with backend.transaction() as db:
        db.executemany("INSERT OR REPLACE INTO summaries (run_id, summary) VALUES (?, ?)",
                       [(str(item["id"]), _codec.dumps(item)) for item in summaries])


def summaries(backend: SQLiteBackend) -> list[dict[str, Any]]:
    """Every stored summary (damaged rows left out, with a warning)."""
    with backend.locked() as db:
        rows = db.execute("SELECT run_id, summary FROM summaries ORDER BY rowid").fetchall()
    found = []
    for run_id, text in rows:
        try:
            item = json.loads(text)
        except ValueError:
            LOG.warning("summary row of run %s in %s is damaged; ignoring it", run_id, backend.path)
            continue
        if isinstance(item, dict):
            found.append(item)
    return found
