"""Run real ZooKeeper servers on loopback: one standalone server, or a small ensemble.

Tests, benchmarks and single-machine demos need a real ZooKeeper, and Debian's package starts
none by itself here (no systemd) while its ``zkServer.sh`` ignores ``ZOOCFGDIR`` and logs nothing.
So opsflow runs the server itself: ``java`` with Debian's ``zookeeper.jar`` (whose manifest lists
the rest of the classpath) plus ``slf4j-simple.jar``, a ``zoo.cfg`` of its own, and a log file next
to it. Settings and why (see TESTBED.md):

* ``4lw.commands.whitelist=*`` -- TaskFlow's version check sends ``envi``, and readiness here
  uses ``ruok`` and ``srvr``;
* ``admin.enableServer=false`` -- the admin server would take port 8080, which Swift's proxy wants;
* ``clientPortAddress=127.0.0.1`` -- test services never listen beyond loopback;
* ``tickTime=500`` -- sessions can expire in 1 s (2 ticks), so takeover tests stay short;
* ``-Xmx256m -XX:+UseSerialGC`` -- ~61 MB RSS per server on a 2-core machine shared by many.

Nothing is installed here: a missing jar raises :class:`~opsflow.errors.BackendUnavailable`
telling to run ``tools/install-services``.

Command line (servers keep running after the command returns)::

    python -m opsflow.services.zookeeper start --dir /tmp/zk --port 2181 [--size 3]
                          (exit 2, nothing touched, if a server of that directory runs already)
    python -m opsflow.services.zookeeper status --dir /tmp/zk
    python -m opsflow.services.zookeeper stop --dir /tmp/zk
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import socket
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from opsflow.errors import BackendUnavailable
from opsflow.services import supervisor

__all__ = ["Ensemble", "Peer", "ZooKeeperServer", "classpath", "find_free_ports", "four_letter", "serving"]

#: Jars Debian's ``zookeeper`` package installs; the first one's manifest lists its dependencies.
ZOOKEEPER_JARS = (Path("/usr/share/java/zookeeper.jar"), Path("/usr/share/java/slf4j-simple.jar"))
#: JVM options: small heap and the serial collector keep each server near 60-70 MB RSS.
JAVA_OPTIONS = ("-Xmx256m", "-XX:+UseSerialGC", "-XX:-UsePerfData", "-Djava.net.preferIPv4Stack=true")
#: Only loopback: test services never listen on another address.
HOST = "127.0.0.1"
#: How the fix for a missing installation is phrased in every error.
INSTALL_HINT = "run tools/install-services (as root) to install Debian's zookeeper package"


def classpath() -> str:
    """Return the server's Java classpath, or raise saying how to install what is missing."""
    missing = [str(jar) for jar in ZOOKEEPER_JARS if not jar.is_file()]
    if missing:
        raise BackendUnavailable(f"ZooKeeper is not installed ({', '.join(missing)} missing); {INSTALL_HINT}")
    if shutil.which("java") is None:
        raise BackendUnavailable(f"no `java` on PATH to run ZooKeeper; {INSTALL_HINT}")
    return os.pathsep.join(str(jar) for jar in ZOOKEEPER_JARS)


def four_letter(port: int, command: str, *, timeout: float = 1.0) -> str | None:
    """Send a four-letter word (``ruok``, ``srvr``...) to a local server; ``None`` if it is not up."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            sock.sendall(command.encode("ascii"))
            chunks = []
            while chunk := sock.recv(4096):
                chunks.append(chunk)
    except OSError:
        return None
    return b"".join(chunks).decode("utf-8", "replace")


def find_free_ports(count: int, *, low: int = 20000, high: int = 60000) -> int:
    """Return the first of ``count`` consecutive loopback ports that are free right now."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(low, high - count)
        if all(_port_is_free(base + i) for i in range(count)):
            return base
    raise BackendUnavailable(f"found no {count} consecutive free loopback ports in {low}-{high}")


def _listening(port: int) -> bool:
    """Whether a process accepts connections on the loopback port (a socket in TIME_WAIT does not count)."""
    try:
        with socket.create_connection((HOST, port), timeout=1.0):
            return True
    except OSError:
        return False


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


@dataclass(frozen=True)
class Peer:
    """One member of an ensemble as every member's ``zoo.cfg`` names it."""

    #: The ``myid`` of the member (1-based).
    server_id: int
    #: Port followers use to talk to the leader.
    peer_port: int
    #: Port used for leader election.
    election_port: int


class ZooKeeperServer:
    """One ZooKeeper server process with its own directory (config, data, log, pid file)."""

    #: Names of the files kept in the server's directory.
    CONFIG, LOG, PID_FILE, DATA = "zoo.cfg", "zookeeper.log", "zookeeper.pid", "data"

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        client_port: int,
        *,
        tick_time: int = 500,
        force_sync: bool = True,
        server_id: int | None = None,
        peers: Sequence[Peer] = (),
        die_with_parent: bool = True,
    ) -> None:
        self.directory = Path(data_dir)
        self.client_port = client_port
        self.tick_time = tick_time
        self.force_sync = force_sync
        self.server_id = server_id
        self.peers = tuple(peers)
        self.die_with_parent = die_with_parent
        #: The pid this object spawned (None: not started here, or gone).
        self._spawned: int | None = None

    @property
    def hosts(self) -> str:
        """The ``host:port`` clients connect to."""
        return f"{HOST}:{self.client_port}"

    @property
    def config_path(self) -> Path:
        """Where this server's ``zoo.cfg`` lives."""
        return self.directory / self.CONFIG

    @property
    def log_path(self) -> Path:
        """Where this server's output goes."""
        return self.directory / self.LOG

    def write_config(self) -> None:
        """Write ``zoo.cfg`` (and ``myid`` for an ensemble member); safe to repeat."""
        data = self.directory / self.DATA
        data.mkdir(parents=True, exist_ok=True)
        lines = [
            f"tickTime={self.tick_time}",
            "initLimit=20",
            "syncLimit=10",
            f"dataDir={data}",
            f"clientPort={self.client_port}",
            f"clientPortAddress={HOST}",
            "maxClientCnxns=0",
            "maxSessionTimeout=60000",
            "admin.enableServer=false",
            "4lw.commands.whitelist=*",
            f"forceSync={'yes' if self.force_sync else 'no'}",
            # 4 MB transaction-log preallocation instead of 64 MB: many short-lived test servers.
            "preAllocSize=4096",
        ]
        for peer in self.peers:
            lines.append(f"server.{peer.server_id}={HOST}:{peer.peer_port}:{peer.election_port}")
        if self.server_id is not None:
            (data / "myid").write_text(f"{self.server_id}\n")
        self.config_path.write_text("\n".join(lines) + "\n")

    def start(self, *, wait: bool = True, timeout: float = 30.0) -> None:
        """Start the server (no-op if it runs already, from this object or this directory); wait until it serves.

        A second JVM on the same port would die at once while the running server answered its
        readiness check, and its pid would replace the real one's: so a running server is left
        alone, and a port taken by another process is refused before anything is spawned.
        """
        if self.running:
            return
        if _listening(self.client_port):
            raise BackendUnavailable(
                f"port {self.client_port} is in use by a process not started from {self.directory}; "
                f"stop it or choose another --port"
            )
        cp = classpath()
        self.write_config()
        main = "org.apache.zookeeper.server." + (
            "quorum.QuorumPeerMain" if self.peers else "ZooKeeperServerMain"
        )
        command = ["java", *JAVA_OPTIONS, "-cp", cp, main, str(self.config_path)]
        # An aborted test run must not leave JVMs behind on a machine shared by many sessions.
        self._spawned = supervisor.spawn(command, self.log_path, die_with_parent=self.die_with_parent)
        supervisor.write_pid_file(self.directory / self.PID_FILE, self._spawned)
        if wait:
            self.wait_serving(timeout)

    def mode(self) -> str | None:
        """``standalone``, ``leader`` or ``follower`` while serving clients, else ``None``."""
        answer = four_letter(self.client_port, "srvr")
        if answer:
            for line in answer.splitlines():
                if line.startswith("Mode: "):
                    return line.removeprefix("Mode: ").strip()
        return None

    def wait_serving(self, timeout: float = 30.0) -> None:
        """Block until ``ruok`` answers ``imok`` and the server serves clients, or raise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._spawned is not None and not supervisor.alive(self._spawned):
                status = supervisor.exit_status(self._spawned)
                self._spawned = None
                raise BackendUnavailable(
                    f"ZooKeeper on {self.hosts} exited with status {status}; "
                    f"see {self.log_path}:\n{self._log_tail()}"
                )
            if four_letter(self.client_port, "ruok") == "imok" and self.mode() is not None:
                return
            time.sleep(0.05)
        raise BackendUnavailable(
            f"ZooKeeper on {self.hosts} did not serve within {timeout:.0f} s; see {self.log_path}:\n"
            f"{self._log_tail()}"
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server gracefully (SIGKILL after ``timeout``); no-op if it is not running."""
        self._signal(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """Kill the server with SIGKILL, as a crash would."""
        self._signal(signal.SIGKILL, 10.0)

    @property
    def running(self) -> bool:
        """Whether the server process (this object's, or the pid file's) is alive."""
        return self._pid() is not None

    @property
    def pid(self) -> int | None:
        """The running server's pid (this object's, or the pid file's if it is still ours), else None."""
        return self._pid()

    def _pid(self) -> int | None:
        if self._spawned is not None:
            if supervisor.alive(self._spawned):
                return self._spawned
            self._spawned = None
        pid = supervisor.read_pid_file(self.directory / self.PID_FILE)
        if pid is None:
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        # A pid file can outlive its process and the pid be reused: only our own server counts.
        return pid if str(self.config_path).encode() in cmdline else None

    def _signal(self, signum: int, timeout: float) -> None:
        pid = self._pid()
        if pid is not None:
            if signum == signal.SIGKILL:
                supervisor.kill(pid)
            else:
                supervisor.stop(pid, timeout)
        self._spawned = None
        (self.directory / self.PID_FILE).unlink(missing_ok=True)

    def _log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@contextlib.contextmanager
def serving(workdir: str | os.PathLike[str], hosts: str | None = None) -> Iterator[str]:
    """Yield ``hosts`` when given; else start a server in ``workdir`` for the block and yield its hosts."""
    if hosts:
        yield hosts
        return
    server = ZooKeeperServer(workdir, find_free_ports(1))
    server.start()
    try:
        yield server.hosts
    finally:
        server.stop()


class Ensemble:
    """A loopback ensemble of ``size`` servers, each in ``base_dir/node<N>``.

    Ports come in three consecutive runs from ``base_port``: clients ``base_port + i``, peers
    ``base_port + size + i``, elections ``base_port + 2 * size + i``.
    """

    def __init__(
        self,
        base_dir: str | os.PathLike[str],
        size: int = 3,
        base_port: int = 2181,
        *,
        tick_time: int = 500,
        force_sync: bool = True,
        die_with_parent: bool = True,
    ) -> None:
        if size < 1:
            raise ValueError(f"an ensemble needs at least one server, not {size}")
        peers = [Peer(i + 1, base_port + size + i, base_port + 2 * size + i) for i in range(size)]
        self.servers = [
            ZooKeeperServer(
                Path(base_dir) / f"node{i + 1}",
                base_port + i,
                tick_time=tick_time,
                force_sync=force_sync,
                server_id=i + 1,
                peers=peers,
                die_with_parent=die_with_parent,
            )
            for i in range(size)
        ]

    @property
    def hosts(self) -> str:
        """The comma-separated ``host:port`` list clients connect to."""
        return ",".join(server.hosts for server in self.servers)

    def start(self, timeout: float = 60.0) -> None:
        """Start every server, then wait until all serve with one leader."""
        for server in self.servers:
            server.start(wait=False)
        self.wait_quorum(timeout)

    def stop(self) -> None:
        """Stop every server."""
        for server in self.servers:
            server.stop()

    def kill(self, index: int) -> None:
        """SIGKILL the server at ``index`` (0-based)."""
        self.servers[index].kill()

    def restart(self, index: int, timeout: float = 60.0) -> None:
        """Start the server at ``index`` again and wait until it serves."""
        self.servers[index].start(timeout=timeout)

    def leader(self) -> int | None:
        """Index of the current leader, if there is one."""
        for index, server in enumerate(self.servers):
            if server.mode() == "leader":
                return index
        return None

    def wait_quorum(self, timeout: float = 60.0) -> None:
        """Block until every running server serves clients and one of them leads."""
        deadline = time.monotonic() + timeout
        for server in self.servers:
            if server.running:
                server.wait_serving(max(0.1, deadline - time.monotonic()))
        while self.leader() is None:
            if time.monotonic() > deadline:
                raise BackendUnavailable(f"ZooKeeper ensemble {self.hosts} elected no leader in {timeout:.0f} s")
            time.sleep(0.05)


def main(argv: Sequence[str] | None = None) -> int:
    """``start``/``stop``/``status`` a server (or an ensemble with ``--size``) in a directory."""
    parser = argparse.ArgumentParser(prog="python -m opsflow.services.zookeeper", description=main.__doc__)
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--dir", required=True, type=Path, help="directory for config, data and logs")
    parser.add_argument("--port", type=int, default=2181, help="(first) client port")
    parser.add_argument("--size", type=int, default=1, help="servers in the ensemble (1: standalone)")
    parser.add_argument("--no-force-sync", action="store_true", help="do not fsync the transaction log")
    args = parser.parse_args(argv)
    force_sync = not args.no_force_sync
    servers: list[ZooKeeperServer]
    if args.size > 1:
        ensemble = Ensemble(args.dir, args.size, args.port, force_sync=force_sync, die_with_parent=False)
        servers = ensemble.servers
    else:
        servers = [ZooKeeperServer(args.dir, args.port, force_sync=force_sync, die_with_parent=False)]
    try:
        if args.action == "start":
            running = [server for server in servers if server.running]
            if running:
                # Nothing is started and the pid files stay, so `stop` still stops the real servers.
                for server in running:
                    print(f"error: ZooKeeper on {server.hosts} is already running (pid {server.pid}, from "
                          f"{server.directory}); `stop --dir {args.dir}` first to restart it", file=sys.stderr)
                return 2
            if args.size > 1:
                ensemble.start()
            else:
                servers[0].start()
            print(",".join(server.hosts for server in servers))
        elif args.action == "stop":
            for server in servers:
                server.stop()
        else:
            for server in servers:
                print(f"{server.hosts} {server.mode() or ('starting' if server.running else 'stopped')}")
    except BackendUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
