"""Starting, finding, checking and stopping the simulated cloud's processes.

Each process runs in its own session (so stopping it stops its children, e.g. gunicorn's worker),
writes stdout and stderr to ``<logs>/<name>.log`` and is remembered in ``<run>/<name>.pid`` as
``pid start-time``: the start time guards against a recycled pid, since CI and later sessions
start with our old pid files but none of our processes. Spawning, pid files and stopping are
:mod:`opsflow.services.supervisor`'s, shared with ZooKeeper and Swift.
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from opsflow.devcloud.errors import BringUpFailed
from opsflow.services import supervisor

__all__ = ["Proc", "alive_pid", "answers", "http_ok", "log_tail", "start", "stop", "wait_healthy", "wait_log"]

#: Seconds a process gets to exit on SIGTERM before SIGKILL.
STOP_GRACE = 5.0


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
    #: True when it serves, for processes that speak no HTTP (the broker's AMQP handshake).
    probe: Callable[[], bool] | None = None
    #: Open-files limit to give it (0: inherit ours).
    nofile: int = 0


def answers(proc: Proc) -> bool:
    """Whether ``proc``'s health URL or probe says it serves (True if it has neither)."""
    if proc.health_url:
        return http_ok(proc.health_url)
    if proc.probe is not None:
        return proc.probe()
    return True


def alive_pid(run_dir: Path, name: str) -> int | None:
    """The pid of ``name`` if the process recorded in its pid file is still the one we started."""
    return supervisor.read_pid_file(run_dir / f"{name}.pid")


def start(proc: Proc, run_dir: Path, log_dir: Path) -> int:
    """Start ``proc`` in the background; return its pid."""
    run_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{proc.name}.log"
    with open(log, "ab") as out:
        out.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {proc.name}\n".encode())
    pid = supervisor.spawn(proc.argv, log, env={**os.environ, **proc.env}, nofile=proc.nofile)
    supervisor.write_pid_file(run_dir / f"{proc.name}.pid", pid)
    return pid


def stop(run_dir: Path, name: str) -> bool:
    """Stop ``name`` and its children (TERM, then KILL after a grace period); True if it ran."""
    pid = alive_pid(run_dir, name)
    (run_dir / f"{name}.pid").unlink(missing_ok=True)
    if pid is None:
        supervisor.reap()
        return False
    supervisor.stop(pid, STOP_GRACE, group=True)
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
        if (proc.health_url or proc.probe) and answers(proc):
            return
        if proc.ready_text and proc.ready_text in _log_since(log, log_offset):
            return
        if time.monotonic() > deadline:
            what = f"{proc.health_url} did not answer" if proc.health_url else \
                f"port {proc.port} did not answer" if proc.probe else f"its log never said {proc.ready_text!r}"
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
