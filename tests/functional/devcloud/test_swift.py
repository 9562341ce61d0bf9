"""opsflow's single-replica Swift: real servers on loopback, driven through python-swiftclient."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import signal
import socket
import time
from pathlib import Path

import pytest
from swiftclient.service import SwiftService, SwiftUploadObject

from opsflow.devcloud.errors import BringUpFailed
from opsflow.devcloud.swift import KeystoneAuth, SwiftCluster, TempAuth
from opsflow.devcloud.swift_config import UPDATER_INTERVALS
from opsflow.identity.service_user import ServiceUser

pytestmark = pytest.mark.functional

MIB = 2**20


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(MIB):
            digest.update(chunk)
    return digest.hexdigest()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _service(cluster: SwiftCluster, **options: object) -> SwiftService:
    return SwiftService(options={"auth": cluster.auth_url, "auth_version": "1.0", "user": "test:tester",
                                 "key": "testing", **options})


def test_static_large_object_round_trip(swift_tempauth: SwiftCluster, tmp_path: Path) -> None:
    """A 60 MiB file uploaded as an SLO of 10 MiB segments downloads with the same checksum."""
    source, copy = tmp_path / "big.bin", tmp_path / "copy.bin"
    with source.open("wb") as stream:
        for _ in range(60):
            stream.write(os.urandom(MIB))
    with _service(swift_tempauth, segment_size=10 * MIB, use_slo=True) as swift:
        uploads = list(swift.upload("images", [SwiftUploadObject(str(source), object_name="big.bin")]))
        assert [r["error"] for r in uploads if not r["success"]] == []
        downloads = list(swift.download("images", ["big.bin"], options={"out_file": str(copy)}))
        assert [r["success"] for r in downloads] == [True]
        (stat,) = swift.stat("images", ["big.bin"])
        segments = [item["name"] for page in swift.list("images_segments") for item in page["listing"]]
    assert _sha256(copy) == _sha256(source)
    assert stat["headers"]["x-static-large-object"] == "True"
    assert len(segments) == 6


def test_account_counts_objects_once_the_updaters_ran(swift_tempauth: SwiftCluster) -> None:
    """The container updater carries object counts up to the account within a few sweeps."""
    with _service(swift_tempauth) as swift:
        before = int(swift.stat()["headers"]["x-account-object-count"])
        uploads = list(swift.upload("counted", [SwiftUploadObject(io.BytesIO(b"x" * 1000), object_name="one")]))
        assert all(r["success"] for r in uploads)
        deadline = time.monotonic() + 4 * UPDATER_INTERVALS["container-updater"]
        while int(swift.stat()["headers"]["x-account-object-count"]) == before and time.monotonic() < deadline:
            time.sleep(0.5)
        assert int(swift.stat()["headers"]["x-account-object-count"]) > before


def test_second_start_changes_nothing(swift_tempauth: SwiftCluster) -> None:
    """start() on a running cluster keeps every process and leaves configs and rings untouched."""
    etc = swift_tempauth.layout.etc
    before_pids = swift_tempauth.running()
    before_files = {path: path.stat().st_mtime_ns for path in etc.iterdir()}
    swift_tempauth.start()
    assert swift_tempauth.running() == before_pids
    assert set(swift_tempauth.healthy().values()) == {True}
    assert {path: path.stat().st_mtime_ns for path in etc.iterdir()} == before_files


def test_start_after_crash_restarts_only_the_dead_server(swift_tempauth: SwiftCluster) -> None:
    """A server killed with SIGKILL is started again by start(); the others keep their pids."""
    before = swift_tempauth.running()
    dead = before["object"]
    assert dead is not None
    os.kill(dead, signal.SIGKILL)
    swift_tempauth.start()
    after = swift_tempauth.running()
    assert after["object"] not in (None, dead)
    assert {k: v for k, v in after.items() if k != "object"} == {k: v for k, v in before.items() if k != "object"}
    with _service(swift_tempauth) as swift:
        assert swift.stat()["success"]


def test_server_whose_pid_file_was_lost_is_replaced(swift_tempauth: SwiftCluster) -> None:
    """A server running without its pid file is found by its config path and replaced by start()."""
    lost = swift_tempauth.running()["container"]
    assert lost is not None
    swift_tempauth.layout.pid_file("container").unlink()
    swift_tempauth.start()
    assert swift_tempauth.running()["container"] not in (None, lost)
    assert not Path(f"/proc/{lost}").exists()


def test_changed_port_restarts_only_that_server(swift_tempauth: SwiftCluster) -> None:
    """start() with another proxy port moves the proxy there and leaves the other servers running."""
    before = swift_tempauth.running()
    moved_ports = dataclasses.replace(swift_tempauth.ports, proxy=_free_port())
    moved = SwiftCluster(swift_tempauth.layout.state_dir, swift_tempauth.venv_bin, TempAuth(), ports=moved_ports)
    try:
        moved.start()
        after = moved.running()
        with _service(moved) as swift:
            assert swift.stat()["success"]
    finally:
        swift_tempauth.start()  # back to the session's ports
    assert after["proxy"] != before["proxy"]
    assert {k: v for k, v in after.items() if k != "proxy"} == {k: v for k, v in before.items() if k != "proxy"}


def test_taken_port_names_the_server_port_and_log(swift_scratch: SwiftCluster) -> None:
    """A port held by another process fails start() naming server, port and log; stop() is then safe twice."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", swift_scratch.ports.account))
        squatter.listen()
        with pytest.raises(BringUpFailed) as failed:
            swift_scratch.start()
    assert failed.value.service == "Swift account"
    assert f"port {swift_scratch.ports.account} on 127.0.0.1 is already in use" in str(failed.value)
    assert failed.value.log == swift_scratch.layout.log_file("account")
    swift_scratch.stop()
    swift_scratch.stop()
    assert set(swift_scratch.running().values()) == {None}
    assert set(swift_scratch.healthy().values()) == {False}


def test_server_that_exits_is_reported_with_its_status_and_log(swift_scratch: SwiftCluster, tmp_path: Path) -> None:
    """A server that dies at start is named with its exit status and the last lines of its log."""
    broken_bin = tmp_path / "bin"
    broken_bin.mkdir()
    for tool in swift_scratch.venv_bin.iterdir():
        if tool.name != "swift-object-server":
            (broken_bin / tool.name).symlink_to(tool)
    broken = broken_bin / "swift-object-server"
    broken.write_text("#!/bin/sh\necho 'object-server: devices are gone' >&2\nexit 3\n")
    broken.chmod(0o755)
    cluster = SwiftCluster(swift_scratch.layout.state_dir, broken_bin, TempAuth(), ports=swift_scratch.ports)
    with pytest.raises(BringUpFailed) as failed:
        cluster.start()
    assert failed.value.service == "Swift object"
    assert "exited with status 3 before answering" in str(failed.value)
    assert "object-server: devices are gone" in str(failed.value)
    assert failed.value.log == cluster.layout.log_file("object")


def test_keystone_mode_comes_up_and_refuses_requests_without_a_token(swift_scratch: SwiftCluster) -> None:
    """With Keystone auth the proxy loads authtoken and keystoneauth, and answers 401 to a tokenless request."""
    # no Keystone listens there: a request without a token never reaches it
    auth = KeystoneAuth(ServiceUser("http://127.0.0.1:9/v3", "swift", "secret"))
    cluster = SwiftCluster(swift_scratch.layout.state_dir, swift_scratch.venv_bin, auth,
                           ports=swift_scratch.ports)
    cluster.start()
    with socket.create_connection(("127.0.0.1", cluster.ports.proxy)) as sock:
        sock.sendall(b"GET /v1/AUTH_someproject HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        status_line = sock.recv(64).split(b"\r\n")[0]
    assert status_line.split()[1] == b"401"
