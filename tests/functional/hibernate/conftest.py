"""Fixtures of the hibernation tests: actions run by hand with a run context, images with random bytes."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openstack
import pytest

from opsflow.devcloud import clouds, seed
from opsflow.devcloud.layout import Layout
from opsflow.engines.atoms import FailurePoint
from opsflow.engines.records import RunRecord
from opsflow.engines.runner import Runner
from opsflow.flows import loader, resolver
from opsflow.hibernate.layout import Layout as StoreLayout
from opsflow.hibernate.swift import Swift
from opsflow.tasks.base import Action, RunContext

SOURCE, SOURCE_ADMIN = clouds.cloud_names("source")
DESTINATION, DESTINATION_ADMIN = clouds.cloud_names("destination")
MIB = 1 << 20


def act(cls: type[Action], run_id: str = "", path: str = "step") -> Action:
    """An action instance with a run context, as the engine would hand it over."""
    action = cls(name=path)
    action.context = RunContext(run_id=run_id or uuid.uuid4().hex, task_path=path)
    return action


@pytest.fixture(scope="module")
def demo(devcloud: Layout) -> Iterator[Any]:
    """The demo user in the source region."""
    conn = openstack.connect(cloud=SOURCE)
    yield conn
    conn.close()


@pytest.fixture()
def store_layout() -> dict[str, str]:
    """A container pair of this test's own."""
    return {"container": f"hib-test-{uuid.uuid4().hex[:8]}"}


@pytest.fixture()
def swift(demo: Any, store_layout: dict[str, str]) -> Iterator[Swift]:
    """The demo project's Swift; the test's containers are emptied and removed afterwards."""
    store = Swift(demo)
    yield store
    lay = StoreLayout(**store_layout)
    for container in (lay.container, lay.segment_container):
        for name in store.names(container):
            store.delete(container, name)
        try:
            store.client().delete_container(container)
        except Exception:  # never made
            pass


@pytest.fixture()
def image(demo: Any) -> Iterator[tuple[Any, bytes]]:
    """A private raw image of 5.5 MiB of random bytes, and those bytes; deleted afterwards."""
    data = os.urandom(5 * MIB + MIB // 2)
    made = demo.image.create_image(name=f"hib-test-{uuid.uuid4().hex[:8]}", disk_format="raw",
                                   container_format="bare", visibility="private")
    demo.image.put(f"images/{made.id}/file", data=data, headers={"Content-Type": "application/octet-stream"})
    yield demo.image.get_image(made.id), data
    demo.image.delete_image(made.id, ignore_missing=True)


def sha256(data: bytes) -> str:
    """Hex SHA-256."""
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def admin(devcloud: Layout) -> Iterator[Any]:
    """The admin user in the source region (sees hosts, acts in the demo project)."""
    conn = openstack.connect(cloud=SOURCE_ADMIN)
    yield conn
    conn.close()


@dataclasses.dataclass
class Booted:
    """A server the demo user booted with everything a hibernation must keep, and what it had."""

    id: str
    name: str
    metadata: dict[str, str]
    tags: list[str]
    key_name: str
    security_groups: list[str]
    fixed_ip: str
    flavor: str
    project_id: str


def boot_full(demo: Any, key_name: str, group: str) -> Booted:
    """Boot an ACTIVE m1.tiny with metadata, tags, a keypair and two security groups on devcloud-net."""
    name = f"hib-{uuid.uuid4().hex[:8]}"
    server = demo.compute.create_server(
        name=name, image_id=seed.image_id(demo), flavor_id=demo.compute.find_flavor("m1.tiny", ignore_missing=False).id,
        networks=[{"uuid": demo.network.find_network(seed.NETWORK_NAME, ignore_missing=False).id}],
        metadata={"owner": "team-a", "purpose": "hibernation test"}, key_name=key_name,
        security_groups=[{"name": "default"}, {"name": group}], tags=["keep", "batch-1"])
    server = demo.compute.wait_for_server(server, interval=1, wait=180)
    port = next(iter(demo.network.ports(device_id=server.id)))
    return Booted(id=server.id, name=name, metadata=dict(server.metadata), tags=sorted(server.tags or []),
                  key_name=key_name, security_groups=sorted(["default", group]),
                  fixed_ip=port.fixed_ips[0]["ip_address"], flavor="m1.tiny", project_id=server.project_id)


@pytest.fixture(scope="module")
def keypair_and_group(demo: Any) -> Iterator[tuple[str, str]]:
    """A keypair of the demo user and a security group of the demo project, removed afterwards."""
    key = demo.compute.create_keypair(name=f"hib-key-{uuid.uuid4().hex[:6]}")
    group = demo.network.create_security_group(name=f"hib-sg-{uuid.uuid4().hex[:6]}", description="hibernation test")
    demo.network.create_security_group_rule(security_group_id=group.id, direction="ingress", ethertype="IPv4",
                                            protocol="tcp", port_range_min=22, port_range_max=22)
    yield key.name, group.name
    admin = openstack.connect(cloud=SOURCE_ADMIN)
    for conn in (demo, admin):
        conn.compute.delete_keypair(key.name, ignore_missing=True)
    demo.network.delete_security_group(group, ignore_missing=True)


def disk_path(devcloud: Layout, region: str, host: str, server_id: str) -> Path:
    """Where the simulated hypervisor keeps a server's disk."""
    return devcloud.region(region).disk_dir / host / f"{server_id}.disk"


def prefix_sha256(path: Path, length: int) -> str:
    """SHA-256 of the first ``length`` bytes of a file."""
    digest, left = hashlib.sha256(), length
    with path.open("rb") as stream:
        while left and (chunk := stream.read(min(MIB, left))):
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def run_flow(state: Path, flow: str, inputs: dict[str, Any], inject: str = "") -> RunRecord:
    """Run a built-in flow here (state in ``state``), failing at ``inject`` (``TASK:before|after``) when given."""
    definition = loader.load_file(os.path.join(resolver.BUILTIN_DIR, f"{flow}.yaml"))
    points = (FailurePoint.parse(inject),) if inject else ()
    with Runner(f"sqlite:///{state}") as runner:
        return runner.run(definition, inputs, failure_points=points)
