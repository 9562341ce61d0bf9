"""Behaviour specific to opsflow's SQLite backend: the file it keeps."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from opsflow.engines import persistence
from opsflow.errors import BackendUnavailable


def test_state_file_uses_the_write_ahead_log(tmp_path: Path) -> None:
    """The file is in WAL mode, so readers never block the engine's writes."""
    backend = persistence.fetch(f"sqlite:///{tmp_path}/state.db")
    with contextlib.closing(backend), contextlib.closing(backend.get_connection()):
        pass
    with contextlib.closing(sqlite3.connect(tmp_path / "state.db")) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_file_from_a_newer_opsflow_is_refused(tmp_path: Path) -> None:
    """A state file with a newer schema is not touched; the error says to upgrade opsflow."""
    with contextlib.closing(sqlite3.connect(tmp_path / "state.db")) as db:
        db.execute("PRAGMA user_version = 99")
    backend = persistence.fetch(f"sqlite:///{tmp_path}/state.db")
    with pytest.raises(BackendUnavailable, match="upgrade opsflow"):
        backend.get_connection()


def test_unwritable_directory_names_the_file(tmp_path: Path) -> None:
    """A state file that cannot be created is reported with its path."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    backend = persistence.SQLiteBackend({"path": str(blocker / "state.db")})
    with pytest.raises(BackendUnavailable, match="not-a-dir/state.db"):
        backend.get_connection()
