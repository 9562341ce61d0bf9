"""The simulated cloud, brought up once per test session (quick when it is already up)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import openstack
import pytest

from opsflow.devcloud import bringup, clouds, configs
from opsflow.devcloud.layout import Layout


@pytest.fixture(scope="session")
def devcloud() -> Iterator[Layout]:
    """A running simulated cloud; ``OS_CLIENT_CONFIG_FILE`` points at its clouds.yaml."""
    layout = Layout.default()
    bringup.up(layout, configs.SimSettings())
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OS_CLIENT_CONFIG_FILE", str(layout.clouds_yaml))
        yield layout


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


__all__ = ["boot", "os"]
