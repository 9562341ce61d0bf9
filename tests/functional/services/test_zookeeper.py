"""Real ZooKeeper servers started by the project's runner: standalone, CLI and a 3-node ensemble."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import KazooException

from opsflow.services.zookeeper import Ensemble, ZooKeeperServer, find_free_ports, four_letter

pytestmark = pytest.mark.functional


def _write_until_ok(client: KazooClient, path: str, value: bytes, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.set(path, value)
            return
        except KazooException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_server_answers_ruok_until_stopped(tmp_path: Path) -> None:
    """A started server answers ``imok`` as a standalone server; once stopped nothing answers."""
    server = ZooKeeperServer(tmp_path, find_free_ports(1))
    server.start()
    try:
        assert four_letter(server.client_port, "ruok") == "imok"
        assert server.mode() == "standalone"
    finally:
        server.stop()
    assert four_letter(server.client_port, "ruok") is None
    assert not server.running


def test_command_line_starts_and_stops_a_detached_server(tmp_path: Path) -> None:
    """``python -m opsflow.services.zookeeper start`` leaves a server running that ``stop`` ends."""
    port = find_free_ports(1)
    cli = [sys.executable, "-m", "opsflow.services.zookeeper"]
    where = ["--dir", str(tmp_path), "--port", str(port)]
    started = subprocess.run([*cli, "start", *where], capture_output=True, text=True, timeout=60)
    try:
        assert started.stdout.strip() == f"127.0.0.1:{port}", started.stderr
        status = subprocess.run([*cli, "status", *where], capture_output=True, text=True, timeout=60)
        assert status.stdout.split() == [f"127.0.0.1:{port}", "standalone"]
    finally:
        subprocess.run([*cli, "stop", *where], check=True, timeout=60)
    assert four_letter(port, "ruok") is None


def test_start_on_a_running_server_reports_it_and_leaves_its_pid_file(tmp_path: Path) -> None:
    """A second ``start`` exits 2 naming the running server's pid and port; ``stop`` still stops that server."""
    port = find_free_ports(1)
    cli = [sys.executable, "-m", "opsflow.services.zookeeper"]
    where = ["--dir", str(tmp_path), "--port", str(port)]
    subprocess.run([*cli, "start", *where], check=True, capture_output=True, timeout=60)
    try:
        pid_file = tmp_path / ZooKeeperServer.PID_FILE
        recorded = pid_file.read_text()
        pid = int(recorded.split()[0])
        again = subprocess.run([*cli, "start", *where], capture_output=True, text=True, timeout=60)
        assert again.returncode == 2 and again.stdout == ""
        assert again.stderr.splitlines() == [
            f"error: ZooKeeper on 127.0.0.1:{port} is already running (pid {pid}, from {tmp_path}); "
            f"`stop --dir {tmp_path}` first to restart it"]
        assert pid_file.read_text() == recorded
        assert four_letter(port, "ruok") == "imok"
    finally:
        subprocess.run([*cli, "stop", *where], check=True, timeout=60)
    assert four_letter(port, "ruok") is None
    assert not Path(f"/proc/{pid}").exists() or b"zoo.cfg" not in Path(f"/proc/{pid}/cmdline").read_bytes()


def test_start_on_a_port_another_process_holds_is_refused(tmp_path: Path) -> None:
    """A port taken by a server of another directory is refused before any JVM is spawned."""
    other = ZooKeeperServer(tmp_path / "other", find_free_ports(1))
    other.start()
    try:
        mine = subprocess.run([sys.executable, "-m", "opsflow.services.zookeeper", "start", "--dir",
                               str(tmp_path / "mine"), "--port", str(other.client_port)],
                              capture_output=True, text=True, timeout=60)
        assert mine.returncode == 1 and f"port {other.client_port} is in use" in mine.stderr
        assert not (tmp_path / "mine" / ZooKeeperServer.PID_FILE).exists()
        assert other.running
    finally:
        other.stop()


@pytest.mark.slow
def test_ensemble_keeps_accepting_writes_when_the_leader_dies(tmp_path: Path) -> None:
    """With the leader killed, the other two elect a new one and writes go on; it rejoins later."""
    ensemble = Ensemble(tmp_path, size=3, base_port=find_free_ports(9))
    ensemble.start()
    client = KazooClient(hosts=ensemble.hosts, timeout=4)
    try:
        client.start(timeout=15)
        client.create("/ensemble-test", b"before")
        leader = ensemble.leader()
        assert leader is not None
        ensemble.kill(leader)
        _write_until_ok(client, "/ensemble-test", b"after")
        ensemble.wait_quorum(30)
        assert ensemble.leader() not in (None, leader)

        ensemble.restart(leader)
        assert ensemble.servers[leader].mode() == "follower"
        rejoined = KazooClient(hosts=ensemble.servers[leader].hosts, timeout=4)
        rejoined.start(timeout=15)
        try:
            rejoined.sync("/ensemble-test")
            assert rejoined.get("/ensemble-test")[0] == b"after"
        finally:
            rejoined.stop()
            rejoined.close()
    finally:
        client.stop()
        client.close()
        ensemble.stop()
