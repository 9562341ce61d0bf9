"""A single-replica Swift ("SAIO") on loopback for the devcloud: configs, rings, start, health, stop.

The devcloud needs an object store that behaves like a real Swift (SLO, DLO, tempurl, bulk,
tempauth or Keystone tokens) without disks, mounts or a system user. :class:`SwiftCluster` runs
the account, container, object and proxy servers from a virtualenv that has ``swift`` installed,
plus a memcached of its own, each as a detached process whose pid file and log live in one state
directory. Starting is idempotent: servers that already run with the current config and answer
their health check are left alone; stale pid files, dead or unhealthy servers and servers whose
config changed are restarted. So a second ``start()`` is a quick no-op and a ``start()`` after a
crash brings back exactly what is missing.

Use::

    swift = SwiftCluster(state_dir / "swift", venv / "bin",
                         KeystoneAuth(ServiceUser("http://127.0.0.1:5000/v3", "swift", password)),
                         ports=Ports(proxy=8080))
    swift.start()                  # BringUpFailed names the server, the reason and its log
    swift.endpoint_template        # register as the object-store endpoint in Keystone
    swift.stop()
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

from opsflow.devcloud import swift_process as proc
from opsflow.devcloud.errors import BringUpFailed
from opsflow.devcloud.swift_config import (
    DAEMON_MODULES,
    DAEMONS,
    SERVERS,
    STORAGE_SERVERS,
    KeystoneAuth,
    Layout,
    Ports,
    TempAuth,
    render_configs,
)

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
    #: Seconds a daemon must keep running after its spawn to count as started.
    DAEMON_SETTLE = 1.0
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
        updaters: bool = True,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        self.layout = Layout(Path(state_dir).absolute())
        self.venv_bin = Path(venv_bin).absolute()
        self.auth = auth
        self.ports = ports or Ports()
        self.memcached = memcached
        self.start_timeout = start_timeout
        #: The daemons this cluster runs (the updaters, unless ``updaters=False`` saves ~110 MB).
        self.daemons = tuple(DAEMONS) if updaters else ()

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
            changed.update(SERVERS, self.daemons)
        for name in DAEMONS:
            if name not in self.daemons:
                self._stop_one(name)  # started earlier with updaters, now without
        spawned: dict[str, int] = {}
        settled_at = 0.0
        for phase in (("memcached",), (*STORAGE_SERVERS, *self.daemons), ("proxy",)):
            started = {name: self._ensure(name, restart=name in changed) for name in phase}
            started_pids = {name: pid for name, pid in started.items() if pid is not None}
            if any(name in DAEMONS for name in started_pids):
                settled_at = time.monotonic() + self.DAEMON_SETTLE
            self._wait_healthy(started_pids)
            spawned.update(started_pids)
        # A daemon has nothing to probe: one with a bad config exits within a second (usually
        # while the proxy starts), so it must still run by then.
        daemons = {name: pid for name, pid in spawned.items() if name in DAEMONS}
        if daemons:
            time.sleep(max(0.0, settled_at - time.monotonic()))
            self._wait_healthy(daemons)
        LOG.info(
            "Swift on %s ready in %.1f s (%s)", self.proxy_url, time.monotonic() - began,
            f"started {', '.join(spawned)}" if spawned else "already running",
        )

    def stop(self) -> None:
        """Stop the proxy, the daemons, the storage servers and memcached; safe when some or all are down."""
        for name in ("proxy", *DAEMONS, *reversed(STORAGE_SERVERS), "memcached"):
            self._stop_one(name)

    def running(self) -> dict[str, int | None]:
        """Pid of each process (memcached, the servers, the daemons) that runs, None for those that don't."""
        return {name: self._pid(name) for name in ("memcached", *SERVERS, *self.daemons)}

    def healthy(self) -> dict[str, bool]:
        """Whether each server runs and answers its health check (for a status listing)."""
        return {name: pid is not None and self._healthy(name, pid) for name, pid in self.running().items()}

    def _stop_one(self, name: str) -> None:
        pids = set(self._strays(name))
        pid = self._pid(name)
        if pid is not None:
            pids.add(pid)
        for each in sorted(pids):
            self._terminate(name, each)
            LOG.info("stopped Swift's %s (pid %d)", name, each)
        self.layout.pid_file(name).unlink(missing_ok=True)

    # -- files -------------------------------------------------------------------------------

    def _write_configs(self) -> set[str]:
        """Write configs whose text differs; return the servers whose config changed."""
        layout = self.layout
        for path in (layout.etc, layout.devices / self.DEVICE, layout.run, layout.log, layout.cache):
            path.mkdir(parents=True, exist_ok=True)
        suffix_file = layout.etc / "hash-path-suffix"
        if not suffix_file.exists():
            proc.write_atomic(suffix_file, secrets.token_hex(16))
        configs = render_configs(layout, self.ports, self.auth, suffix_file.read_text().strip())
        changed: set[str] = set()
        for path, text in configs.items():
            if path.exists() and path.read_text() == text:
                continue
            proc.write_atomic(path, text)
            if path.name == "swift.conf":
                changed.update(SERVERS, self.daemons)
            else:
                server = path.name.removesuffix("-server.conf")
                changed.update([server, *(d for d in self.daemons if DAEMONS[d] == server)])
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
        proc.write_atomic(stamp, want)
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

    def _script(self, name: str) -> str:
        """The console script of a Swift server or daemon."""
        return f"swift-{name}" if name in DAEMONS else f"swift-{name}-server"

    def _conf(self, name: str) -> Path:
        """The config file a Swift server or daemon reads (a daemon shares its server's)."""
        return self.layout.conf(DAEMONS.get(name, name))

    def _argv(self, name: str) -> list[str]:
        """The command that runs a process."""
        # -v adds a stderr log handler, and stderr is the log file
        if name in DAEMONS:
            # Swift's daemons, unlike its WSGI servers, ignore swift_dir when they look for
            # swift.conf and read /etc/swift/swift.conf: set the directory before main() runs.
            code = (
                "import sys; from swift.common.utils import set_swift_dir; "
                f"set_swift_dir({str(self.layout.etc)!r}); sys.argv = sys.argv[1:]; "
                f"from {DAEMON_MODULES[name]} import main; main()"
            )
            self._bin(self._script(name))  # the same check that Swift is installed
            return [self._bin("python"), "-c", code, self._script(name), "-v", str(self._conf(name))]
        if name != "memcached":
            return [self._bin(self._script(name)), "-v", str(self._conf(name))]
        binary = shutil.which(self.memcached)
        if binary is None:
            raise BringUpFailed(
                "memcached",
                f"{self.memcached!r} is not installed; run tools/install-services (or apt-get install -y memcached)",
            )
        argv = [binary, "-l", "127.0.0.1", "-p", str(self.ports.memcached), "-U", "0", "-m", "64"]
        if os.geteuid() == 0:
            argv += ["-u", "root"]  # memcached refuses to run as root unless told the user
        return argv

    def _is_ours(self, name: str, pid: int) -> bool:
        """Whether ``pid`` runs this cluster's ``name`` (pids get recycled; pid files get lost)."""
        words = proc.cmdline(pid)
        if name == "memcached":  # its command line says nothing of the state dir; the pid file must
            return (shutil.which(self.memcached) or self.memcached) in words
        # the config file is unique to this state dir; the script tells a server from its daemon
        # and from, say, `less proxy-server.conf`
        return str(self._conf(name)) in words and any(Path(w).name == self._script(name) for w in words)

    def _pid(self, name: str) -> int | None:
        """Pid of the process if its pid file names a live process of ours; drops a stale pid file."""
        pid_file = self.layout.pid_file(name)
        try:
            pid = int(pid_file.read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None
        # The pid file's start time must match too: a recycled pid is not our server.
        if proc.read_pid_file(pid_file) == pid and self._is_ours(name, pid):
            return pid
        proc.exit_status(pid)
        LOG.info("removing stale pid file %s (pid %d is gone)", pid_file, pid)
        pid_file.unlink(missing_ok=True)
        return None

    def _strays(self, name: str) -> list[int]:
        """Swift processes of this state dir that no pid file names (say, the pid file was lost)."""
        if name == "memcached":
            return []
        known = self._pid(name)
        return [pid for pid in proc.find_by_arg(str(self._conf(name))) if pid != known and self._is_ours(name, pid)]

    def _ensure(self, name: str, *, restart: bool) -> int | None:
        """Spawn the server unless it runs healthy with its config; the new pid, or None."""
        pid = self._pid(name)
        if pid is not None:
            args = self._argv(name)[1:]
            same_command = proc.cmdline(pid)[-len(args):] == args
            if not restart and same_command and self._healthy(name, pid):
                LOG.debug("Swift's %s already runs as pid %d", name, pid)
                return None
            LOG.info("restarting Swift's %s (pid %d): %s", name, pid,
                     "config changed" if restart or not same_command else "not healthy")
            self._terminate(name, pid)
        for stray in self._strays(name):
            LOG.warning("stopping Swift's %s pid %d, which runs without a pid file", name, stray)
            self._terminate(name, stray)
        port = None if name in DAEMONS else self.ports.of(name)
        if port is not None and proc.port_in_use(port):
            raise BringUpFailed(
                f"Swift {name}",
                f"port {port} on 127.0.0.1 is already in use by another process; stop that process "
                f"or give SwiftCluster another {name} port (ports=Ports({name}=...))",
                self.layout.log_file(name),
            )
        pid = proc.spawn(self._argv(name), self.layout.log_file(name))
        proc.write_pid_file(self.layout.pid_file(name), pid)
        LOG.info("started Swift's %s%s as pid %d", name, f" on 127.0.0.1:{port}" if port else "", pid)
        return pid

    def _healthy(self, name: str, pid: int) -> bool:
        """Whether the process ``pid`` of ``name`` serves: its probe answers (a daemon: it runs)."""
        if name in DAEMONS:
            return proc.alive(pid)
        if name == "memcached":
            return proc.memcached_answers(self.ports.memcached)
        return proc.healthcheck_answers(self.ports.of(name))

    def _wait_healthy(self, pids: dict[str, int]) -> None:
        """Wait until every server just spawned answers; raise for the first that exits or times out."""
        pending = dict(pids)
        deadline = time.monotonic() + self.start_timeout
        while pending:
            for name, pid in list(pending.items()):
                if not proc.alive(pid):
                    code = proc.exit_status(pid)
                    self.layout.pid_file(name).unlink(missing_ok=True)
                    why = f"exited with status {code}" if code is not None else "exited"
                    self._fail(name, f"{why} right after it started" if name in DAEMONS
                               else f"{why} before answering {self._probe_name(name)}")
                if self._healthy(name, pid):
                    del pending[name]
            if pending and time.monotonic() > deadline:
                name, pid = next(iter(pending.items()))
                self._terminate(name, pid)
                self.layout.pid_file(name).unlink(missing_ok=True)
                self._fail(name, f"did not answer {self._probe_name(name)} within {self.start_timeout:.0f} s")
            if pending:
                time.sleep(0.05)

    def _probe_name(self, name: str) -> str:
        if name in DAEMONS:
            return "(a daemon, which only has to keep running)"
        port = self.ports.of(name)
        return f"`version` on 127.0.0.1:{port}" if name == "memcached" else f"http://127.0.0.1:{port}/healthcheck"

    def _fail(self, name: str, reason: str) -> None:
        log_file = self.layout.log_file(name)
        tail = proc.tail(log_file, self.LOG_TAIL_LINES)
        detail = f"; last log lines:\n{tail}\n" if tail else ""
        raise BringUpFailed(f"Swift {name}", f"{reason}{detail}", log_file)

    def _terminate(self, name: str, pid: int) -> None:
        """SIGTERM the server (one process: ``workers = 0``), SIGKILL it after :attr:`STOP_TIMEOUT`."""
        if not proc.terminate(pid, self.STOP_TIMEOUT):
            # stuck in the kernel (state D): nothing more to do here; a start() after it reports
            # the port as taken
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
