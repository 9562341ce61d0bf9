"""Fixtures of the devcloud tests.

* ``demo``/``admin`` connections per region of the session's ``devcloud`` (``tests/functional/
  conftest.py``) and a shared ``server``;
* ``swift_tempauth`` / ``swift_scratch``: standalone Swift clusters with tempauth on free loopback
  ports, for the tests of the Swift module itself.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openstack
import pytest

from opsflow.devcloud import clouds
from opsflow.devcloud.layout import Layout
from opsflow.devcloud.swift import Ports, SwiftCluster, TempAuth, ensure_venv


@pytest.fixture(scope="module", params=["source", "destination"])
def region(request: pytest.FixtureRequest) -> str:
    """Each region in turn."""
    return str(request.param)


@pytest.fixture(scope="module")
def demo(devcloud: Layout, region: str) -> Iterator[Any]:
    """An openstacksdk connection as the demo user in ``region``."""
    conn = openstack.connect(cloud=clouds.cloud_names(region)[0])
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def admin(devcloud: Layout, region: str) -> Iterator[Any]:
    """An openstacksdk connection as admin in ``region``."""
    conn = openstack.connect(cloud=clouds.cloud_names(region)[1])
    yield conn
    conn.close()


def boot(conn: Any, *, metadata: dict[str, str] | None = None, wait: bool = True) -> Any:
    """Boot a server from the seeded image on the shared network, as the tests' servers are."""
    from opsflow.devcloud import seed

    server = conn.compute.create_server(
        name=f"test-{uuid.uuid4().hex[:8]}",
        image_id=seed.image_id(conn),
        flavor_id=conn.compute.find_flavor("m1.tiny", ignore_missing=False).id,
        networks=[{"uuid": conn.network.find_network(seed.NETWORK_NAME, ignore_missing=False).id}],
        metadata=metadata or {})
    if wait:
        server = conn.compute.wait_for_server(server, interval=1, wait=180)
    return server


@pytest.fixture(scope="module")
def server(demo: Any) -> Iterator[Any]:
    """An ACTIVE server of the demo user, shared by a module's tests in one region and deleted after them."""
    srv = boot(demo)
    yield srv
    demo.compute.delete_server(srv, ignore_missing=True)
    demo.compute.wait_for_delete(srv, wait=120)

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
