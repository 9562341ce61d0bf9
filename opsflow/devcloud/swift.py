"""A single-replica Swift ("SAIO") on loopback for the devcloud: configs, rings, start, health, stop.

The devcloud needs an object store that behaves like a real Swift (SLO, DLO, tempurl, bulk,
tempauth or Keystone tokens) without disks, mounts or a system user. :class:`SwiftCluster` runs
the account, container, object and proxy servers from a virtualenv that has ``swift`` installed,
plus a memcached of its own, each as a detached process whose pid file and log live in one state
directory. Starting is idempotent: servers that already run with the current config and answer
their health check are left alone; stale pid files, dead or unhealthy servers and servers whose
config changed are restarted. So a second ``start()`` is a quick no-op and a ``start()`` after a
crash brings back exactly what is missing.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.client
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from opsflow.devcloud.swift_config import (
    SERVERS,
    STORAGE_SERVERS,
    KeystoneAuth,
    Layout,
    Ports,
    TempAuth,
    render_configs,
)
from opsflow.devcloud.errors import BringUpFailed

__all__ = ["SWIFT_PINS", "KeystoneAuth", "Ports", "SwiftCluster", "TempAuth", "ensure_venv"]

LOG = logging.getLogger(__name__)

#: What to install when the virtualenv lacks Swift; the same pins the devcloud services venv uses.
SWIFT_PINS = "swift==2.38.3 python-swiftclient==4.11.0 keystonemiddleware==13.0.1"


class SwiftCluster:
    """One Swift on 127.0.0.1: three storage servers, a proxy and memcached, rooted in ``state_dir``."""

    #: Seconds one server may take from spawn to answering its health check.
    START_TIMEOUT = 30.0
    #: Seconds a server gets to exit after SIGTERM before it is killed.
    STOP_TIMEOUT = 10.0
    #: Partition power of the rings: 256 partitions are plenty for one device.
    PART_POWER = 8
    #: The one device of every ring, a directory under ``devices``.
    DEVICE = "d1"
    #: Lines of a server's log quoted in an error.
    LOG_TAIL_LINES = 15

    def __init__(
        self,
        state_dir: Path,
        venv_bin: Path,
        auth: TempAuth | KeystoneAuth,
        *,
        ports: Ports | None = None,
        memcached: str = "memcached",
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        self.layout = Layout(Path(state_dir).absolute())
        self.venv_bin = Path(venv_bin).absolute()
        self.auth = auth
        self.ports = ports or Ports()
        self.memcached = memcached
        self.start_timeout = start_timeout

    # -- what clients need -------------------------------------------------------------------

    @property
    def proxy_url(self) -> str:
        """Base URL of the proxy, without a path."""
        return f"http://127.0.0.1:{self.ports.proxy}"

    @property
    def auth_url(self) -> str:
        """tempauth's v1 auth URL (``/auth/v1.0``); with Keystone, clients use Keystone's URL."""
        return f"{self.proxy_url}/auth/v1.0"

    @property
    def endpoint_template(self) -> str:
        """The object-store endpoint to register in Keystone's catalog."""
        return f"{self.proxy_url}/v1/AUTH_%(project_id)s"

    def storage_url(self, account: str) -> str:
        """Storage URL of an account (tempauth account name or Keystone project id)."""
        return f"{self.proxy_url}/v1/AUTH_{account}"

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Bring every server up and healthy; leave alone those already up with the current config.

        Raises :class:`~opsflow.devcloud.errors.BringUpFailed` naming the server, the reason and its log
        when one does not come up; servers started before it keep running (``stop()`` ends them).
        """
        began = time.monotonic()
        changed = self._write_configs()
        if self._build_rings():
            changed.update(SERVERS)
        spawned: list[str] = []
        for phase in (("memcached",), STORAGE_SERVERS, ("proxy",)):
            started = {name: self._ensure(name, restart=name in changed) for name in phase}
            self._wait_healthy({name: pid for name, pid in started.items() if pid is not None})
            spawned += [name for name, pid in started.items() if pid is not None]
        LOG.info(
            "Swift on %s ready in %.1f s (%s)", self.proxy_url, time.monotonic() - began,
            f"started {', '.join(spawned)}" if spawned else "already running",
        )

    def stop(self) -> None:
        """Stop the proxy, the storage servers and memcached; safe when some or all are down."""
        for name in ("proxy", *reversed(STORAGE_SERVERS), "memcached"):
            pid = self._pid(name)
            if pid is not None:
                self._terminate(name, pid)
                LOG.info("stopped Swift's %s (pid %d)", name, pid)
            self.layout.pid_file(name).unlink(missing_ok=True)

    def running(self) -> dict[str, int | None]:
        """Pid of each server (``memcached`` and :data:`SERVERS`) that runs, None for those that don't."""
        return {name: self._pid(name) for name in ("memcached", *SERVERS)}

    # -- files -------------------------------------------------------------------------------

    def _write_configs(self) -> set[str]:
        """Write configs whose text differs; return the servers whose config changed."""
        layout = self.layout
        for path in (layout.etc, layout.devices / self.DEVICE, layout.run, layout.log):
            path.mkdir(parents=True, exist_ok=True)
        suffix_file = layout.etc / "hash-path-suffix"
        if not suffix_file.exists():
            _write_atomic(suffix_file, secrets.token_hex(16))
        configs = render_configs(layout, self.ports, self.auth, suffix_file.read_text().strip())
        changed: set[str] = set()
        for path, text in configs.items():
            if path.exists() and path.read_text() == text:
                continue
            _write_atomic(path, text)
            if path.name == "swift.conf":
                changed.update(SERVERS)
            else:
                changed.add(path.name.removesuffix("-server.conf"))
        return changed

    def _build_rings(self) -> bool:
        """Make each ring with its one device unless it exists as wanted; True if any was made.

        Each ``swift-ring-builder`` call costs about half a second of imports, so the three rings
        are built side by side.
        """
        with concurrent.futures.ThreadPoolExecutor(len(STORAGE_SERVERS)) as pool:
            built = list(pool.map(self._build_ring, STORAGE_SERVERS))
        return any(built)

    def _build_ring(self, server: str) -> bool:
        etc = self.layout.etc
        ring, builder, stamp = (etc / f"{server}.{ext}" for ext in ("ring.gz", "builder", "ring.opsflow"))
        want = json.dumps({"part_power": self.PART_POWER, "replicas": 1, "ip": "127.0.0.1",
                           "port": self.ports.of(server), "device": self.DEVICE})
        if ring.exists() and stamp.exists() and stamp.read_text() == want:
            return False
        # One device holds every partition whatever the ring says, so remaking a ring (say for a
        # new port) keeps the stored objects reachable.
        for path in (ring, builder, stamp):
            path.unlink(missing_ok=True)
        tool = self._bin("swift-ring-builder")
        device = f"r1z1-127.0.0.1:{self.ports.of(server)}/{self.DEVICE}"
        for args, ok in ((["create", str(self.PART_POWER), "1", "1"], (0,)),
                         (["add", device, "100"], (0,)),
                         (["rebalance"], (0, 1))):  # 1 is a warning; the ring is still written
            done = subprocess.run([tool, str(builder), *args], capture_output=True, text=True, check=False)
            if done.returncode not in ok:
                raise BringUpFailed(
                    f"Swift {server} ring",
                    f"`swift-ring-builder {builder} {' '.join(args)}` exited {done.returncode}: "
                    f"{(done.stdout + done.stderr).strip()[-500:]}",
                )
        _write_atomic(stamp, want)
        LOG.info("built Swift's %s ring for 127.0.0.1:%d", server, self.ports.of(server))
        return True

    def _bin(self, name: str) -> str:
        path = self.venv_bin / name
        if not os.access(path, os.X_OK):
            raise BringUpFailed(
                f"Swift {name}",
                f"{path} is missing; install Swift into that virtualenv: "
                f"{self.venv_bin / 'pip'} install {SWIFT_PINS}",
            )
        return str(path)

    # -- processes ---------------------------------------------------------------------------

    def _argv(self, name: str) -> list[str]:
        """The command that runs a server."""
        if name != "memcached":
            # -v adds a stderr log handler, and stderr is the log file
            return [self._bin(f"swift-{name}-server"), "-v", str(self.layout.conf(name))]
        binary = shutil.which(self.memcached)
        if binary is None:
            raise BringUpFailed("memcached", f"{self.memcached!r} is not installed; apt-get install -y memcached")
        argv = [binary, "-l", "127.0.0.1", "-p", str(self.ports.memcached), "-U", "0", "-m", "64"]
        if os.geteuid() == 0:
            argv += ["-u", "root"]  # memcached refuses to run as root unless told the user
        return argv

    def _pid(self, name: str) -> int | None:
        """Pid of the server if its pid file names a live process of ours; drops a stale pid file."""
        pid_file = self.layout.pid_file(name)
        try:
            pid = int(pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        # the pid may have been reused: a Swift server names its config file (unique to this state
        # dir) on its command line, memcached its binary
        marker = self._argv(name)[0] if name == "memcached" else str(self.layout.conf(name))
        if _alive(pid) and marker in _cmdline(pid):
            return pid
        _EXIT_STATUS.pop(pid, None)
        LOG.info("removing stale pid file %s (pid %d is gone)", pid_file, pid)
        pid_file.unlink(missing_ok=True)
        return None

    def _ensure(self, name: str, *, restart: bool) -> int | None:
        """Spawn the server unless it runs healthy with its config; the new pid, or None."""
        pid = self._pid(name)
        if pid is not None:
            args = self._argv(name)[1:]
            same_command = _cmdline(pid)[-len(args):] == args
            if not restart and same_command and self._healthy(name):
                LOG.debug("Swift's %s already runs as pid %d", name, pid)
                return None
            LOG.info("restarting Swift's %s (pid %d): %s", name, pid,
                     "config changed" if restart or not same_command else "not healthy")
            self._terminate(name, pid)
        port = self.ports.of(name)
        if _port_in_use(port):
            raise BringUpFailed(
                f"Swift {name}",
                f"port {port} on 127.0.0.1 is already in use by another process; stop that process "
                f"or give SwiftCluster another {name} port (ports=Ports({name}=...))",
                self.layout.log_file(name),
            )
        pid = _spawn(self._argv(name), self.layout.log_file(name))
        _write_atomic(self.layout.pid_file(name), f"{pid}\n")
        LOG.info("started Swift's %s on 127.0.0.1:%d as pid %d", name, port, pid)
        return pid

    def _healthy(self, name: str) -> bool:
        if name == "memcached":
            return _memcached_answers(self.ports.memcached)
        return _healthcheck_answers(self.ports.of(name))

    def _wait_healthy(self, pids: dict[str, int]) -> None:
        """Wait until every server just spawned answers; raise for the first that exits or times out."""
        pending = dict(pids)
        deadline = time.monotonic() + self.start_timeout
        while pending:
            for name, pid in list(pending.items()):
                if not _alive(pid):
                    code = _EXIT_STATUS.pop(pid, None)
                    self.layout.pid_file(name).unlink(missing_ok=True)
                    why = f"exited with status {code}" if code is not None else "exited"
                    self._fail(name, f"{why} before answering {self._probe_name(name)}")
                if self._healthy(name):
                    del pending[name]
            if pending and time.monotonic() > deadline:
                name, pid = next(iter(pending.items()))
                self._terminate(name, pid)
                self.layout.pid_file(name).unlink(missing_ok=True)
                self._fail(name, f"did not answer {self._probe_name(name)} within {self.start_timeout:.0f} s")
            if pending:
                time.sleep(0.05)

    def _probe_name(self, name: str) -> str:
        port = self.ports.of(name)
        return f"`version` on 127.0.0.1:{port}" if name == "memcached" else f"http://127.0.0.1:{port}/healthcheck"

    def _fail(self, name: str, reason: str) -> None:
        log_file = self.layout.log_file(name)
        tail = _tail(log_file, self.LOG_TAIL_LINES)
        detail = f"; last log lines:\n{tail}\n" if tail else ""
        raise BringUpFailed(f"Swift {name}", f"{reason}{detail}", log_file)

    def _terminate(self, name: str, pid: int) -> None:
        """SIGTERM the server (one process: ``workers = 0``), SIGKILL it after :attr:`STOP_TIMEOUT`."""
        for sig, wait in ((signal.SIGTERM, self.STOP_TIMEOUT), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            deadline = time.monotonic() + wait
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            if not _alive(pid):
                _EXIT_STATUS.pop(pid, None)
                return
            LOG.warning("Swift's %s (pid %d) ignored %s", name, pid, sig.name)
        # stuck in the kernel (state D): nothing more to do here; a start() after it reports the
        # port as taken
        LOG.error("Swift's %s (pid %d) survived SIGKILL; see %s", name, pid, self.layout.log_file(name))


def ensure_venv(venv: Path) -> Path:
    """The bin directory of ``venv`` with :data:`SWIFT_PINS` installed; made first if missing (~25 s).

    For tests and benchmarks; the devcloud installs the same pins into its services virtualenv.
    """
    bin_dir = Path(venv).absolute() / "bin"
    if (bin_dir / "swift-proxy-server").exists():
        return bin_dir
    LOG.info("creating a virtualenv with %s in %s", SWIFT_PINS, venv)
    steps = ([sys.executable, "-m", "venv", str(venv)], [str(bin_dir / "pip"), "install", "-q", *SWIFT_PINS.split()])
    for argv in steps:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BringUpFailed(
                "Swift virtualenv", f"`{' '.join(argv)}` exited {done.returncode}: {done.stderr.strip()[-500:]}"
            )
    return bin_dir


def _write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` in one step, so a crash never leaves a half-written file behind."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _spawn(argv: list[str], log_file: Path) -> int:
    """Start ``argv`` detached (own session, stdin /dev/null, stdout and stderr appended to the log).

    ``posix_spawn`` rather than ``subprocess.Popen``: the servers outlive the caller, and a
    ``Popen`` object collected while its child runs raises ResourceWarning.
    """
    with log_file.open("a") as log:
        log.write(f"--- opsflow starting {' '.join(argv)} at {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return os.posix_spawn(
        argv[0], argv, env,
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(log_file), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
        setsid=True,
    )


def _alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie counts as dead and is reaped when it is our child."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    if state != "Z":
        return True
    # our child stays a zombie until we reap it, so its exit status is still there to keep
    with contextlib.suppress(ChildProcessError):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            _EXIT_STATUS[pid] = os.waitstatus_to_exitcode(status)
    return False


#: Exit codes of children reaped by :func:`_alive`, for the error that reports them.
_EXIT_STATUS: dict[int, int] = {}


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return raw.decode(errors="replace").split("\0")[:-1]


def _port_in_use(port: int) -> bool:
    """True if 127.0.0.1:port cannot be bound (someone listens there, on it or on 0.0.0.0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _healthcheck_answers(port: int) -> bool:
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


def _memcached_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2.0) as sock:
            sock.sendall(b"version\r\n")
            return sock.recv(64).startswith(b"VERSION")
    except OSError:
        return False


def _tail(path: Path, lines: int) -> str:
    """The last lines of the server's latest run in its log (after the last opsflow marker)."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    text = text.rpartition("--- opsflow starting ")[2]
    return "\n".join(text.splitlines()[1:][-lines:])
