"""Detached processes for the devcloud's Swift: spawn, recognise, probe and stop them.

The servers outlive whoever started them (``opsflow devcloud up`` exits, a test session ends), so
they are found again through pid files and ``/proc`` rather than through objects of this process.
Spawning, liveness, pid files and stopping are :mod:`opsflow.services.supervisor`'s, shared with
ZooKeeper and the cloud's other services; what is Swift's own (finding strays by their config,
probes) stays here.
"""

from __future__ import annotations

import http.client
import os
import socket
import time
from pathlib import Path

from opsflow.services import supervisor

__all__ = [
    "alive",
    "cmdline",
    "exit_status",
    "find_by_arg",
    "healthcheck_answers",
    "memcached_answers",
    "port_in_use",
    "read_pid_file",
    "spawn",
    "tail",
    "terminate",
    "write_atomic",
    "write_pid_file",
]

#: Written to a log before each start, so an error quotes only the latest run's lines.
START_MARK = "--- opsflow starting "



def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` in one step, so a crash never leaves a half-written file behind."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def spawn(argv: list[str], log_file: Path) -> int:
    """Start ``argv`` detached (own session, stdin /dev/null, stdout and stderr appended to the log).

    Through :func:`opsflow.services.supervisor.spawn`, without this interpreter's ``PYTHONPATH``
    and ``PYTHONHOME`` (Swift runs in the services virtualenv).
    """
    with log_file.open("a") as log:
        log.write(f"{START_MARK}{' '.join(argv)} at {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return supervisor.spawn(argv, log_file, env=env)


def alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie counts as dead and is reaped when it is our child."""
    return supervisor.alive(pid)


def exit_status(pid: int) -> int | None:
    """The exit code of a child that :func:`alive` reaped, once; None if unknown."""
    return supervisor.exit_status(pid)


def write_pid_file(path: Path, pid: int) -> None:
    """Record ``pid`` with its start time, so a recycled pid is never taken for the server."""
    supervisor.write_pid_file(path, pid)


def read_pid_file(path: Path) -> int | None:
    """The pid recorded in ``path`` if that very process still runs (see the supervisor)."""
    return supervisor.read_pid_file(path)


def cmdline(pid: int, *, settle: bool = True) -> list[str]:
    """The process's argv, empty if it is gone (or a kernel thread, which has none).

    A process spawned a moment ago can show an empty argv: vfork lets the parent go on when the
    child's exec drops the old memory, before the kernel has laid out the new argv. Judging it
    then would take a live server for a recycled pid, so an empty argv is read again for a while
    (unless ``settle`` is false, for scans that meet kernel threads).
    """
    deadline = time.monotonic() + (1.0 if settle else 0.0)
    while True:
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return []
        if raw or time.monotonic() > deadline or not alive(pid):
            return raw.decode(errors="replace").split("\0")[:-1]
        time.sleep(0.01)


def find_by_arg(arg: str) -> list[int]:
    """Pids of live processes with ``arg`` as one word of their command line."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and arg in cmdline(int(entry.name), settle=False) and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def terminate(pid: int, grace: float) -> bool:
    """SIGTERM ``pid``, SIGKILL it after ``grace`` seconds; False if it still lives after that."""
    return supervisor.stop(pid, grace)


def port_in_use(port: int, grace: float = 1.0) -> bool:
    """True if 127.0.0.1:port cannot be bound (someone listens on it or on 0.0.0.0) for ``grace`` s.

    The grace covers a process that was just killed and whose exit has not closed its sockets yet.
    """
    deadline = time.monotonic() + grace
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                if time.monotonic() > deadline:
                    return True
            else:
                return False
        time.sleep(0.05)


def healthcheck_answers(port: int) -> bool:
    """True if a Swift server on 127.0.0.1:port answers 200 on ``/healthcheck``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2.0)
    try:
        conn.request("GET", "/healthcheck")
        response = conn.getresponse()
        response.read()
        return response.status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def memcached_answers(port: int) -> bool:
    """True if memcached on 127.0.0.1:port answers ``version``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2.0) as sock:
            sock.sendall(b"version\r\n")
            return sock.recv(64).startswith(b"VERSION")
    except OSError:
        return False


def tail(path: Path, lines: int) -> str:
    """The last lines of the latest run in a log (after the last :data:`START_MARK`)."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    text = text.rpartition(START_MARK)[2]
    return "\n".join(text.splitlines()[1:][-lines:])
