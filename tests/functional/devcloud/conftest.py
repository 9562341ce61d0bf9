"""Fixtures that run opsflow's Swift (tempauth) on free loopback ports for the functional tests."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsflow.devcloud.swift import Ports, SwiftCluster, TempAuth, ensure_venv

#: A virtualenv with Swift in it, outside the repo; made on first use (about 25 s).
SWIFT_VENV = Path(os.environ.get("OPSFLOW_SWIFT_VENV", Path.home() / ".cache/opsflow/swift-dev-venv"))


def _free_ports() -> Ports:
    """Five ports the kernel says are free now, so tests never collide with a running devcloud."""
    socks = [socket.socket() for _ in range(5)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        numbers = [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()
    return Ports(proxy=numbers[0], account=numbers[1], container=numbers[2], object=numbers[3],
                 memcached=numbers[4])


@pytest.fixture(scope="session")
def swift_venv_bin() -> Path:
    """The bin directory of a virtualenv with the pinned Swift, created if missing (memcached comes
    from tools/install-services, which tools/test runs)."""
    return ensure_venv(SWIFT_VENV)


@pytest.fixture(scope="session")
def swift_tempauth(tmp_path_factory: pytest.TempPathFactory, swift_venv_bin: Path) -> Iterator[SwiftCluster]:
    """A running Swift with tempauth (user ``test:tester``, key ``testing``), stopped after the session."""
    cluster = SwiftCluster(tmp_path_factory.mktemp("swift"), swift_venv_bin, TempAuth(), ports=_free_ports())
    try:
        cluster.start()  # inside: a start that fails half-way leaves servers to stop
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def _swift_scratch_place(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Ports]:
    # one state dir and port set for every scratch cluster: its rings are built once
    return tmp_path_factory.mktemp("swift-scratch"), _free_ports()


@pytest.fixture()
def swift_scratch(_swift_scratch_place: tuple[Path, Ports], swift_venv_bin: Path) -> Iterator[SwiftCluster]:
    """A tempauth cluster for tests that break things: not started, stopped afterwards."""
    state_dir, ports = _swift_scratch_place
    cluster = SwiftCluster(state_dir, swift_venv_bin, TempAuth(), ports=ports)
    try:
        yield cluster
    finally:
        cluster.stop()
