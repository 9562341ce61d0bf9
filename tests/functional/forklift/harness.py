"""What the forklift suites share: a richly configured source server and a census of both clouds.

The server the flows move has what operators' servers have: its own network and subnet (so the
destination can keep its fixed IP), a security group with rules, a keypair, metadata and tags. The
census lists every server, port, image, keypair, security group (with rules), network and flavor a
migration could leave behind, so a test compares the clouds before and after a reverted run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opsflow import clouds
from opsflow.devcloud import seed
from opsflow.devcloud.layout import Layout
from opsflow.engines.records import RunRecord
from opsflow.engines.runner import Runner
from opsflow.engines.atoms import FailurePoint
from opsflow.flows import loader
from opsflow.flows.model import OnFailure
from opsflow.flows.resolver import BUILTIN_DIR

SOURCE, DESTINATION = "devcloud-source", "devcloud-destination"
SOURCE_ADMIN, DESTINATION_ADMIN = "devcloud-source-admin", "devcloud-destination-admin"
#: A public key the keypair tests carry across (any valid ssh-ed25519 key will do).
PUBLIC_KEY = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHxtuSE7L1WDp5Ip5XxLQU1eBsGPXQXyBTnX6OWMoBT3 forklift-test")


@dataclass(frozen=True)
class Source:
    """A server at the source and what was made for it."""

    id: str
    name: str
    network: str
    group: str
    keypair: str


def admin(cloud: str) -> Any:
    """An admin connection of the region ``cloud`` names (for hosts and every project's resources)."""
    return clouds.connect(SOURCE_ADMIN if cloud == SOURCE else DESTINATION_ADMIN)


def census(cloud: str) -> dict[str, set[Any]]:
    """Everything of the demo project (and every flavor) a migration could make or leave in ``cloud``."""
    conn = clouds.connect(cloud)
    project = conn.current_project_id
    return {
        "servers": {(s.id, s.status) for s in conn.compute.servers()},
        "ports": {p.id for p in conn.network.ports(project_id=project)},
        "images": {(i.id, i.name) for i in conn.image.images(owner=project)},
        "keypairs": {k.name for k in conn.compute.keypairs()},
        "security_groups": {g.id for g in conn.network.security_groups(project_id=project)},
        "rules": {r.id for r in conn.network.security_group_rules(project_id=project)},
        "networks": {n.id for n in conn.network.networks(project_id=project)},
        "flavors": {f.id for f in admin(cloud).compute.flavors()},
    }


def both_clouds() -> dict[str, dict[str, set[Any]]]:
    """The census of source and destination."""
    return {SOURCE: census(SOURCE), DESTINATION: census(DESTINATION)}


def disk_of(layout: Layout, cloud: str, server_id: str) -> Path:
    """The simulated disk file of a server (its host read with admin rights)."""
    host = admin(cloud).compute.get_server(server_id).compute_host
    region = "source" if cloud == SOURCE else "destination"
    return layout.region(region).disk_dir / host / f"{server_id}.disk"


def prefix_sha256(path: Path, length: int) -> str:
    """SHA-256 of the first ``length`` bytes of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        left = length
        while left:
            chunk = handle.read(min(left, 1 << 20))
            if not chunk:
                break
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def boot_source(label: str, *, cidr_octet: int) -> Source:
    """Boot an ACTIVE demo server with its own network, security group, keypair, metadata and tags."""
    conn = clouds.connect(SOURCE)
    suffix = f"{label}-{uuid.uuid4().hex[:6]}"
    network = conn.network.create_network(name=f"fk-net-{suffix}")
    conn.network.create_subnet(network_id=network.id, name=f"fk-sub-{suffix}", ip_version=4,
                               cidr=f"10.{cidr_octet}.0.0/24", enable_dhcp=False)
    group = conn.network.create_security_group(name=f"fk-sg-{suffix}", description="forklift test group")
    conn.network.create_security_group_rule(security_group_id=group.id, direction="ingress", ethertype="IPv4",
                                            protocol="tcp", port_range_min=22, port_range_max=22,
                                            remote_ip_prefix="192.0.2.0/24")
    conn.network.create_security_group_rule(security_group_id=group.id, direction="ingress", ethertype="IPv4",
                                            protocol="icmp", remote_group_id=group.id)
    key = conn.compute.create_keypair(name=f"fk-key-{suffix}", public_key=PUBLIC_KEY)
    server = conn.compute.create_server(
        name=f"fk-{suffix}", image_id=seed.image_id(conn),
        flavor_id=conn.compute.find_flavor("m1.tiny", ignore_missing=False).id,
        networks=[{"uuid": network.id}], security_groups=[{"name": group.name}], key_name=key.name,
        metadata={"role": "web", "owner": "team-a"}, tags=["prod", "web"])
    conn.compute.wait_for_server(server, interval=0.5, wait=300)
    return Source(server.id, server.name, network.name, group.name, key.name)


def _delete_named(cloud: str, source: Source) -> None:
    """Delete ``source``'s server (by name), its migration images, keypair, group and network at ``cloud``."""
    conn = clouds.connect(cloud)
    doomed = list(conn.compute.servers(name=f"^{source.name}$"))
    for server in doomed:
        conn.compute.delete_server(server)
    for server in doomed:
        conn.compute.wait_for_delete(server, interval=0.5, wait=300)
    for image in conn.image.images(owner=conn.current_project_id):
        if image.name.startswith("opsflow-"):
            conn.image.delete_image(image, ignore_missing=True)
    conn.compute.delete_keypair(source.keypair, ignore_missing=True)
    for group in conn.network.security_groups(name=source.group):
        conn.network.delete_security_group(group, ignore_missing=True)
    network = clouds.find_one(conn.network.find_network, source.network)
    if network is not None:
        conn.network.delete_network(network, ignore_missing=True)


def delete_source(source: Source) -> None:
    """Delete a test server and what was made for it, at the source."""
    _delete_named(SOURCE, source)


def delete_twin(source: Source) -> None:
    """Delete whatever a migration of ``source`` made at the destination (and its snapshots at the source)."""
    _delete_named(DESTINATION, source)


@contextlib.contextmanager
def fresh_source(label: str, cidr_octet: int) -> Iterator[Source]:
    """A server booted for one test; it, its twin and what was made for them are deleted afterwards."""
    made = boot_source(label, cidr_octet=cidr_octet)
    try:
        yield made
    finally:
        delete_twin(made)
        delete_source(made)


def run_forklift(state: Path, server: str, *, mode: str = "image", inject: str = "", pause: bool = False,
                 **inputs: Any) -> RunRecord:
    """Run the built-in forklift flow in this process, state in an SQLite file under ``state``
    (``pause``: stop for an operator at a failure instead of reverting)."""
    definition = loader.load_file(f"{BUILTIN_DIR}/forklift.yaml")
    if pause:
        definition = dataclasses.replace(definition, on_failure=OnFailure.PAUSE)
    given = {"server": server, "source_cloud": SOURCE, "destination_cloud": DESTINATION, "mode": mode, **inputs}
    points = (FailurePoint.parse(inject),) if inject else ()
    with Runner(f"sqlite:///{state}/state.db") as runner:
        return runner.run(definition, given, failure_points=points)


def resume(state: Path, run_id: str) -> RunRecord:
    """Resume a stopped run of :func:`run_forklift`."""
    with Runner(f"sqlite:///{state}/state.db") as runner:
        return runner.resume(run_id)
