"""hibernate.yaml and restore.yaml end to end on the simulated cloud, as an operator (admin) runs them."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opsflow.devcloud.layout import Layout
from opsflow.engines.records import RunState
from opsflow.hibernate import listing, slo
from opsflow.hibernate.layout import Layout as StoreLayout
from opsflow.hibernate.swift import Swift
from opsflow.plugins.nova import disks

from .conftest import SOURCE_ADMIN, Booted, boot_full, disk_path, prefix_sha256, run_flow, drop_containers

pytestmark = pytest.mark.functional


@dataclasses.dataclass
class Hibernated:
    """A server hibernated by the module's fixture, with what it was."""

    booted: Booted
    host: str
    disk_sha256: str
    disk_size: int
    layout: dict[str, str]
    run_state: RunState
    errors: list[str]


@pytest.fixture(scope="module")
def hibernated(devcloud: Layout, demo: Any, admin: Any, keypair_and_group: tuple[str, str],
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hibernated]:
    """A fully equipped server, hibernated by admin into a container of this module's own."""
    booted = boot_full(demo, *keypair_and_group)
    host = admin.compute.get_server(booted.id).compute_host
    disk = disk_path(devcloud, "source", host, booted.id)
    layout = {"container": f"hib-flow-{uuid.uuid4().hex[:8]}"}
    sha, size = disks.file_sha256(disk), disk.stat().st_size
    record = run_flow(tmp_path_factory.mktemp("state") / "state.db", "hibernate",
                      {"cloud": SOURCE_ADMIN, "server": booted.id, "layout": layout, "segment_size": 1 << 20})
    yield Hibernated(booted, host, sha, size, layout, record.state,
                     [f"{t.path}: {t.error}" for t in record.tasks if t.error])
    for server in demo.compute.servers(name=booted.name):
        demo.compute.delete_server(server, ignore_missing=True)
        demo.compute.wait_for_delete(server, wait=120)
    drop_containers(Swift(demo), layout)


def test_hibernate_leaves_no_server_no_port_and_the_disk_bytes_in_swift(
        hibernated: Hibernated, demo: Any, admin: Any) -> None:
    """After hibernate the server and its port are gone and Swift holds the disk's exact bytes."""
    assert hibernated.run_state is RunState.SUCCEEDED, hibernated.errors
    assert admin.compute.find_server(hibernated.booted.id, ignore_missing=True) is None
    assert list(admin.network.ports(device_id=hibernated.booted.id)) == []
    lay = StoreLayout(**hibernated.layout)
    store = Swift(demo)
    assert slo.hash_object(store, lay.container, lay.disk(hibernated.booted.name)) == \
        (hibernated.disk_size, hibernated.disk_sha256)
    manifest = listing.read(store, lay, hibernated.booted.name)
    assert (manifest.state.value, manifest.server["host"]) == ("hibernated", hibernated.host)
    assert [i.id for i in admin.image.images() if i.instance_uuid == hibernated.booted.id] == []


def test_restore_gives_the_same_server_back(
        hibernated: Hibernated, devcloud: Layout, demo: Any, admin: Any, tmp_path: Path) -> None:
    """Restore boots the same name, flavor, metadata, tags, keypair, groups, fixed IP and owner, same disk bytes;
    the manifest's restore mark says which user nova recorded (the admin) and that the owner was another."""
    booted = hibernated.booted
    record = run_flow(tmp_path / "state.db", "restore",
                      {"cloud": SOURCE_ADMIN, "name": booted.name, "project": booted.project_id,
                       "layout": hibernated.layout, "access": str(devcloud.host_access)})
    assert record.state is RunState.SUCCEEDED, [t.error for t in record.tasks if t.error]
    (server,) = list(admin.compute.servers(all_projects=True, name=f"^{booted.name}$"))
    server = admin.compute.get_server(server.id)
    port = next(iter(admin.network.ports(device_id=server.id)))
    assert server.name == booted.name
    assert server.flavor["original_name"] == booted.flavor
    assert dict(server.metadata) == booted.metadata
    assert sorted(server.tags or []) == booted.tags
    assert server.key_name == booted.key_name
    assert sorted(g["name"] for g in server.security_groups) == booted.security_groups
    assert [ip["ip_address"] for ip in port.fixed_ips] == [booted.fixed_ip]
    assert server.project_id == booted.project_id
    restored = disk_path(devcloud, "source", server.compute_host, server.id)
    assert prefix_sha256(restored, hibernated.disk_size) == hibernated.disk_sha256
    manifest = listing.read(Swift(demo), StoreLayout(**hibernated.layout), booted.name)
    assert manifest.state.value == "restored"
    assert [r.server_id for r in manifest.restores] == [server.id]
    (mark,) = manifest.restores  # an admin restored it: nova's user is the admin, the owner stays on record
    assert mark.user_id == server.user_id == admin.current_user_id != manifest.server["user_id"]
    assert [n for n in mark.notes if manifest.server["user_id"] in n]
    assert [i for i in admin.image.images() if i.name.startswith("opsflow-restore-")] == []
