"""Shared fixtures: a real ZooKeeper for the whole session, a fresh chroot for each test, a clock step.

Nothing here touches a service at import time; ZooKeeper starts only when a test asks for it.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Callable, Iterator

import psutil
import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError

from opsflow.services import zookeeper


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--zk-url",
        default=None,
        help="test against this ZooKeeper (host:port[,host:port...]) instead of starting one",
    )


@pytest.fixture(scope="session")
def zookeeper_hosts(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Hosts of the ZooKeeper given with --zk-url, else of one started on a free loopback port."""
    given = request.config.getoption("--zk-url")
    hosts = str(given).removeprefix("zookeeper://").split("/", 1)[0] if given else None
    with zookeeper.serving(tmp_path_factory.mktemp("zookeeper"), hosts) as served:
        yield served


@pytest.fixture
def zk_chroot(request: pytest.FixtureRequest, zookeeper_hosts: str) -> Iterator[str]:
    """A ZooKeeper path no other test uses; deleted afterwards."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name)[:60]
    path = f"/opsflow-test/{name}-{uuid.uuid4().hex[:8]}"
    yield path
    client = KazooClient(hosts=zookeeper_hosts)
    client.start(timeout=10)
    try:
        with contextlib.suppress(NoNodeError):
            client.delete(path, recursive=True)
    finally:
        client.stop()
        client.close()


@pytest.fixture
def clock_step(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Call it to step the wall clock by 90 s as far as process start times go.

    The one stand-in here: a test cannot step this machine's clock. What a step does to a process's
    start time is that Linux reports another boot time, and psutil's ``create_time`` adds it; so this
    moves the boot time psutil reads (its Linux module's ``boot_time``) for the rest of the test.
    """
    linux = psutil._psplatform  # psutil's platform module: _pslinux here
    reported = linux.boot_time

    def step() -> None:
        monkeypatch.setattr(linux, "boot_time", lambda: reported() + 90.0)
    return step
