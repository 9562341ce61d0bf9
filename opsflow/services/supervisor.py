"""One way to run the local service processes: spawn with a log, remember pid and start time, check, stop.

ZooKeeper (:mod:`opsflow.services.zookeeper`), the simulated cloud's services
(:mod:`opsflow.devcloud.procs`) and its Swift (:mod:`opsflow.devcloud.swift_process`) all run
detached processes that outlive whoever started them, and are found again later from a pid file.
A pid file outlives its process and the pid gets reused -- CI and later sessions start with old
pid files and none of our processes -- so a pid file records the pid *and* when the process
started, in clock ticks since boot with the boot's id (:mod:`opsflow.process_start`: no step of
the wall clock moves it), and a pid counts as ours only while both still match.

* :func:`spawn` starts a process in its own session (stopping it can stop its children too) with
  stdin from /dev/null and stdout and stderr appended to a log file. ``posix_spawn`` rather than
  ``subprocess.Popen``: the child outlives us by design, and a ``Popen`` collected while its child
  runs raises ResourceWarning (pytest's ``filterwarnings = error`` turns it into a failure). With
  ``die_with_parent`` (test servers) the kernel sends SIGTERM when the spawning thread dies, which
  needs ``prctl`` in the child before exec, so that case goes through ``Popen``, kept here; so does
  ``nofile`` (a raised open-files limit, set with ``setrlimit`` in the child: the broker needs one
  socket per connection, more than the usual soft limit).
* :func:`alive` says whether a pid runs (a zombie is dead; our own is reaped, its status kept).
* :func:`stop` sends SIGTERM, then SIGKILL after a grace period, to the process or its group.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import psutil

from opsflow import process_start

__all__ = ["alive", "exit_status", "kill", "read_pid_file", "reap", "spawn", "stop", "write_pid_file"]

#: Seconds the epoch start times older pid files hold may differ by between two readings.
START_TIME_SLACK = 0.05

_PR_SET_PDEATHSIG = 1
#: Looked up before any fork: the child between fork and exec must not load libraries.
_prctl = ctypes.CDLL(None, use_errno=True).prctl

#: Pids this process spawned and has not reaped yet.
_SPAWNED: set[int] = set()
#: The ``Popen`` objects of ``die_with_parent`` children, kept so they are never collected while running.
_POPENS: dict[int, subprocess.Popen[bytes]] = {}
#: Exit codes of our children reaped by :func:`alive`, kept for the error that reports them.
_EXIT_STATUS: dict[int, int] = {}


def _child_setup(die_with_parent: bool, nofile: tuple[int, int] | None) -> Callable[[], None]:
    """What runs in the child before exec: the parent-death signal, the open-files limit."""
    def setup() -> None:
        if die_with_parent:  # the kernel sends SIGTERM when the starting thread dies
            _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, nofile)
    return setup


def _nofile_limits(wanted: int) -> tuple[int, int]:
    """(soft, hard) open-files limits for a child that wants ``wanted``: no more than our hard limit.

    Raising the hard limit needs CAP_SYS_RESOURCE, which containers (this machine's included) lack.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    top = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    return max(soft, top), hard


def spawn(argv: Sequence[str], log_file: Path, *, env: Mapping[str, str] | None = None,
          die_with_parent: bool = False, nofile: int = 0) -> int:
    """Start ``argv`` detached (own session, stdin /dev/null, output appended to ``log_file``); its pid.

    ``argv[0]`` is looked up on ``PATH`` unless it is a path. ``env`` replaces the environment
    (default: this process's). ``nofile`` raises the child's open-files limit towards that many
    (up to our hard limit).
    """
    environ = dict(os.environ if env is None else env)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    if die_with_parent or nofile:
        setup = _child_setup(die_with_parent, _nofile_limits(nofile) if nofile else None)
        with open(log_file, "ab") as log:
            popen = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                     env=environ, start_new_session=True, preexec_fn=setup)
        _POPENS[popen.pid] = popen
        _SPAWNED.add(popen.pid)
        return popen.pid
    with open(log_file, "ab") as log:
        pid = os.posix_spawnp(argv[0], list(argv), environ, setsid=True, file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, log.fileno(), 1),
            (os.POSIX_SPAWN_DUP2, log.fileno(), 2),
        ])
    _SPAWNED.add(pid)
    return pid


def write_pid_file(path: Path, pid: int) -> None:
    """Record ``pid``, its start in clock ticks and the boot's id in ``path``, replaced in one step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(f"{pid} {process_start.ticks(pid) or 0} {process_start.boot_id()}\n")
    os.replace(tmp, path)


def read_pid_file(path: Path) -> int | None:
    """The pid recorded in ``path`` if that very process still runs; None otherwise (or no file).

    Besides ``pid ticks boot-id`` it reads what earlier versions wrote: ``pid ticks`` (no boot id),
    ``pid epoch-start`` (psutil's ``create_time``, which a step of the clock moves) and a bare
    ``pid``, whose caller must check the command line itself.
    """
    try:
        words = path.read_text().split()
        pid = int(words[0])
    except (OSError, ValueError, IndexError):
        return None
    if len(words) > 2 and words[2] != process_start.boot_id():
        return None
    if len(words) > 1 and not _started_as_recorded(pid, words[1]):
        return None
    return pid if alive(pid) else None


def _started_as_recorded(pid: int, recorded: str) -> bool:
    if recorded.isdigit():
        return process_start.ticks(pid) == recorded
    try:
        when = float(recorded)
        now = float(psutil.Process(pid).create_time())
    except (ValueError, psutil.Error):
        return False
    return abs(now - when) <= START_TIME_SLACK


def alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie counts as dead and is reaped when it is our child."""
    try:
        status = psutil.Process(pid).status()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    if status != psutil.STATUS_ZOMBIE:
        return True
    # Our child stays a zombie until we reap it, so its exit status is still there to keep. Its
    # main thread turns zombie before the other threads are gone, and they hold its sockets: it
    # is dead only once waitpid can reap it.
    try:
        done, code = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False  # someone else's zombie
    if not done:
        return True
    _EXIT_STATUS[pid] = os.waitstatus_to_exitcode(code)
    _forget(pid)
    return False


def exit_status(pid: int) -> int | None:
    """The exit code of a child that :func:`alive` reaped, once; None if unknown."""
    return _EXIT_STATUS.pop(pid, None)


def reap() -> None:
    """Collect the exit status of the processes we spawned that have ended (no zombies left).

    Only our own pids: waiting on any child would steal the status of a concurrent ``subprocess``.
    """
    for pid in list(_SPAWNED):
        try:
            done, code = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            _forget(pid)
            continue
        if done:
            _EXIT_STATUS[pid] = os.waitstatus_to_exitcode(code)
            _forget(pid)


def _forget(pid: int) -> None:
    _SPAWNED.discard(pid)
    popen = _POPENS.pop(pid, None)
    if popen is not None:
        popen.returncode = _EXIT_STATUS.get(pid, -1)  # reaped already: Popen must not wait on it


def stop(pid: int, grace: float, *, group: bool = False) -> bool:
    """SIGTERM ``pid``, SIGKILL after ``grace`` seconds; True once it is gone.

    With ``group`` both go to its whole process group, and the SIGKILL is sent even when the
    leader has exited by then, so children it left behind (gunicorn's workers) go too.
    """
    send = os.killpg if group else os.kill
    with contextlib.suppress(ProcessLookupError):
        send(pid, signal.SIGTERM)
    _wait_gone(pid, grace)
    if group:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        return _ended(pid)
    return kill(pid) if alive(pid) else _ended(pid)


def kill(pid: int) -> bool:
    """SIGKILL ``pid`` at once, as a crash would; True once it is gone."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return _ended(pid)


def _ended(pid: int) -> bool:
    """Wait (5 s at most) until ``pid`` is gone and reap it; True once it is."""
    gone = _wait_gone(pid, 5.0)
    reap()
    _EXIT_STATUS.pop(pid, None)  # we ended it: its status tells nothing
    return gone


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True
