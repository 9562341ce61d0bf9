"""Starting, finding, checking and stopping the simulated cloud's processes.

Each process runs in its own session (so stopping it stops its children, e.g. gunicorn's worker),
writes stdout and stderr to ``<logs>/<name>.log`` and is remembered in ``<run>/<name>.pid`` as
``pid start-time``: the start time (from /proc) guards against a recycled pid, since CI and later
sessions start with our old pid files but none of our processes.
"""

from __future__ import annotations

import os
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from opsflow.devcloud.errors import BringUpFailed

__all__ = ["Proc", "alive_pid", "http_ok", "log_tail", "start", "stop", "wait_healthy", "wait_log"]

#: Seconds a process gets to exit on SIGTERM before SIGKILL.
STOP_GRACE = 5.0
#: Pids this process spawned and has not reaped yet.
_SPAWNED: set[int] = set()


@dataclass(frozen=True)
class Proc:
    """One process of the simulated cloud."""

    #: Unique name, also the log and pid file's stem (``source-nova-api``).
    name: str
    #: Region, or ``""`` for Keystone.
    region: str
    #: Command line.
    argv: Sequence[str]
    #: Extra environment.
    env: Mapping[str, str] = field(default_factory=dict)
    #: TCP port it serves, 0 if none.
    port: int = 0
    #: URL that answers below 500 when the service is healthy, "" if it has none.
    health_url: str = ""
    #: Text its log shows once it is serving, for processes without a URL.
    ready_text: str = ""
    #: Seconds to wait for it to become healthy.
    timeout: float = 120.0


def _start_time(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # field 22 (starttime); the command name (field 2) may contain spaces, so split after ")"
    return stat.rsplit(")", 1)[1].split()[19]


def alive_pid(run_dir: Path, name: str) -> int | None:
    """The pid of ``name`` if the process recorded in its pid file is still the one we started."""
    try:
        pid_text, started = (run_dir / f"{name}.pid").read_text().split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    if _start_time(pid) != started:
        return None
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None
    return None if state == "Z" else pid


def start(proc: Proc, run_dir: Path, log_dir: Path) -> int:
    """Start ``proc`` in the background; return its pid."""
    run_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{proc.name}.log"
    env = {**os.environ, **proc.env}
    with open(log, "ab") as out:
        out.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {proc.name}\n".encode())
        out.flush()
        # posix_spawn rather than Popen: the child outlives us by design, and a Popen object would
        # be reported as a leaked, still-running subprocess when it is garbage-collected
        pid = os.posix_spawnp(proc.argv[0], list(proc.argv), env, setsid=True, file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, out.fileno(), 1),
            (os.POSIX_SPAWN_DUP2, out.fileno(), 2),
        ])
    _SPAWNED.add(pid)
    (run_dir / f"{proc.name}.pid").write_text(f"{pid} {_start_time(pid)}\n")
    return pid


def stop(run_dir: Path, name: str) -> bool:
    """Stop ``name`` and its children (TERM, then KILL after a grace period); True if it ran."""
    pid = alive_pid(run_dir, name)
    (run_dir / f"{name}.pid").unlink(missing_ok=True)
    if pid is None:
        _reap()
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + STOP_GRACE
    while time.monotonic() < deadline:
        if _start_time(pid) == "" or _zombie(pid):
            break
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _reap()
    return True


def _reap() -> None:
    """Collect the exit status of the processes we spawned that have ended (no zombies left).

    Only our own pids: waiting on any child would steal the status of a concurrent ``subprocess``.
    """
    for pid in list(_SPAWNED):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            _SPAWNED.discard(pid)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def http_ok(url: str, timeout: float = 3.0) -> bool:
    """True if ``url`` answers with a status below 500."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (loopback only)
            return int(resp.status) < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except (OSError, ValueError):
        return False


def log_tail(log: Path, lines: int = 15) -> str:
    """The last ``lines`` lines of a log, for error messages."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _log_since(log: Path, offset: int) -> str:
    try:
        with open(log, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def wait_healthy(proc: Proc, run_dir: Path, log_dir: Path, log_offset: int = 0) -> None:
    """Wait until ``proc`` answers (URL or log text); raise BringUpFailed naming it if it dies or stalls."""
    log = log_dir / f"{proc.name}.log"
    deadline = time.monotonic() + proc.timeout
    while True:
        if alive_pid(run_dir, proc.name) is None:
            raise BringUpFailed(proc.name, f"the process exited; last lines of its log:\n{log_tail(log)}",
                                log)
        if proc.health_url and http_ok(proc.health_url):
            return
        if proc.ready_text and proc.ready_text in _log_since(log, log_offset):
            return
        if time.monotonic() > deadline:
            what = f"{proc.health_url} did not answer" if proc.health_url else \
                f"its log never said {proc.ready_text!r}"
            raise BringUpFailed(proc.name, f"{what} within {proc.timeout:.0f} s; last lines of its "
                                f"log:\n{log_tail(log)}", log)
        time.sleep(0.5)


def wait_log(log: Path, text: str, timeout: float) -> bool:
    """True once ``text`` appears in ``log`` within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in _log_since(log, 0):
            return True
        time.sleep(0.5)
    return False
