"""The one process supervisor: spawn with a log, pid file with start time, liveness, TERM then KILL."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from opsflow import process_start
from opsflow.services import supervisor

SLEEPER = [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"]
#: Ignores SIGTERM, so only the SIGKILL after the grace period ends it.
STUBBORN = [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('up', flush=True); time.sleep(60)"]


def _wait_for(log: Path, text: str) -> None:
    import time

    deadline = time.monotonic() + 30
    while text not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, f"{text!r} never in {log}"
        time.sleep(0.02)


def test_spawned_process_logs_is_recorded_and_stops(tmp_path: Path) -> None:
    """A spawned process writes to its log, its pid file names it while it runs, and stop ends it."""
    log, pid_file = tmp_path / "logs" / "sleeper.log", tmp_path / "run" / "sleeper.pid"
    pid = supervisor.spawn(SLEEPER, log)
    supervisor.write_pid_file(pid_file, pid)
    _wait_for(log, "up")
    assert supervisor.alive(pid) and supervisor.read_pid_file(pid_file) == pid
    assert supervisor.stop(pid, grace=5.0)
    assert not supervisor.alive(pid) and supervisor.read_pid_file(pid_file) is None


def test_a_pid_file_whose_start_differs_names_no_process(tmp_path: Path) -> None:
    """A recycled pid (same number, another start or another boot) is not taken for ours, in every recorded form."""
    pid = supervisor.spawn(SLEEPER, tmp_path / "sleeper.log")
    try:
        ticks = process_start.ticks(pid)
        assert ticks is not None
        pid_file = tmp_path / "sleeper.pid"
        supervisor.write_pid_file(pid_file, pid)
        assert supervisor.read_pid_file(pid_file) == pid
        pid_file.write_text(f"{pid} {int(ticks) - 1} {process_start.boot_id()}\n")
        assert supervisor.read_pid_file(pid_file) is None
        pid_file.write_text(f"{pid} {ticks} 00000000-another-boot\n")
        assert supervisor.read_pid_file(pid_file) is None
        pid_file.write_text(f"{pid} 1\n")  # the older `pid clock-ticks` form
        assert supervisor.read_pid_file(pid_file) is None
        pid_file.write_text(f"{pid} {time.time() - 100.0!r}\n")  # the older `pid epoch-start` form
        assert supervisor.read_pid_file(pid_file) is None
        pid_file.write_text(f"{pid}\n")  # the older bare form: the caller checks the command line
        assert supervisor.read_pid_file(pid_file) == pid
    finally:
        supervisor.stop(pid, grace=5.0)


def test_a_step_of_the_wall_clock_leaves_a_running_process_ours(tmp_path: Path, clock_step: Callable[[], None]) -> None:
    """After the clock stepped (the boot time Linux reports moved), a pid file still names its running process."""
    pid = supervisor.spawn(SLEEPER, tmp_path / "sleeper.log")
    try:
        pid_file = tmp_path / "sleeper.pid"
        supervisor.write_pid_file(pid_file, pid)
        clock_step()
        assert supervisor.read_pid_file(pid_file) == pid
    finally:
        supervisor.stop(pid, grace=5.0)


def test_stop_kills_a_process_that_ignores_sigterm_after_the_grace(tmp_path: Path) -> None:
    """SIGTERM first; a process that ignores it is killed once the grace period is over."""
    log = tmp_path / "stubborn.log"
    pid = supervisor.spawn(STUBBORN, log)
    _wait_for(log, "up")
    assert supervisor.stop(pid, grace=0.3)
    assert not supervisor.alive(pid)
    assert supervisor.exit_status(pid) is None  # stop consumed it: nothing left to report


def test_a_child_that_exits_is_reaped_with_its_status(tmp_path: Path) -> None:
    """A child that exits on its own is dead (not a zombie) and its exit status is kept once."""
    pid = supervisor.spawn([sys.executable, "-c", "raise SystemExit(3)"], tmp_path / "exits.log")
    import time

    deadline = time.monotonic() + 30
    while supervisor.alive(pid):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert supervisor.exit_status(pid) == 3
    assert supervisor.exit_status(pid) is None
