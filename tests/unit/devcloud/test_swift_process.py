"""Detached processes as the devcloud's Swift handles them: spawn, liveness, exit status, stop, ports, logs."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

from opsflow.devcloud import swift_process as proc


def _wait_dead(pid: int) -> None:
    for _ in range(200):
        if not proc.alive(pid):
            return
        time.sleep(0.01)
    raise AssertionError(f"pid {pid} still alive")


def test_spawned_process_runs_detached_and_logs_to_its_file(tmp_path: Path) -> None:
    """A spawned process leads its own session and writes stdout and stderr after a start mark in its log."""
    log = tmp_path / "x.log"
    pid = proc.spawn(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"], log)
    _wait_dead(pid)
    assert proc.exit_status(pid) == 3
    assert proc.exit_status(pid) is None  # reported once
    assert proc.tail(log, 5).splitlines() == ["out", "err"]


def test_terminate_stops_a_running_process(tmp_path: Path) -> None:
    """terminate() ends a process that runs, and find_by_arg() finds it by a word of its command line."""
    marker = str(tmp_path / "marker")
    # python keeps its argv as it is (sh -c may fork or exec and change it)
    pid = proc.spawn([sys.executable, "-c", "import time; time.sleep(30)", marker], tmp_path / "s.log")
    assert proc.alive(pid)
    assert proc.find_by_arg(marker) == [pid]
    assert proc.terminate(pid, grace=5.0)
    assert not proc.alive(pid)
    assert proc.find_by_arg(marker) == []


def test_tail_shows_only_the_latest_run(tmp_path: Path) -> None:
    """tail() quotes the lines after the last start mark only."""
    log = tmp_path / "y.log"
    for word in ("first", "second"):
        _wait_dead(proc.spawn(["/bin/echo", word], log))
    assert proc.tail(log, 10) == "second"


def test_port_in_use_sees_a_listener() -> None:
    """A port with a listener on 127.0.0.1 is in use; once it closes, it is free."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert proc.port_in_use(port, grace=0)
    assert not proc.port_in_use(port, grace=0)


def test_write_atomic_replaces_the_whole_file(tmp_path: Path) -> None:
    """write_atomic() leaves the new text and no temporary file."""
    target = tmp_path / "conf"
    target.write_text("old")
    proc.write_atomic(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["conf"]
