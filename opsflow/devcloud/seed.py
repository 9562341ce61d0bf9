"""What the simulated cloud holds before anyone uses it: catalog, users, flavors, image, network.

Every step looks before it creates, so seeding an already seeded cloud changes nothing.
"""

from __future__ import annotations

import datetime
import io
import logging
import time
from collections.abc import Iterable
from typing import Any

import openstack

from opsflow.devcloud import layout as lay
from opsflow.devcloud.errors import BringUpFailed
from opsflow.plugins.nova import disks

__all__ = [
    "FLAVORS",
    "IMAGE_NAME",
    "NETWORK_NAME",
    "admin_connection",
    "find",
    "forget_hypervisors",
    "image_bytes",
    "image_id",
    "seed_catalog",
    "seed_region",
    "wait_for_hypervisors",
]

LOG = logging.getLogger(__name__)

#: Service users, one per service, shared by both regions.
SERVICE_USERS = ("placement", "nova", "neutron", "glance", "swift")
#: (name, service type, port attribute of RegionLayout, path)
CATALOG = (
    ("placement", "placement", "placement_port", ""),
    ("nova", "compute", "nova_port", "/v2.1"),
    ("neutron", "network", "neutron_port", ""),
    ("glance", "image", "glance_port", ""),
)
#: (name, vcpus, ram MiB, root disk GB)
FLAVORS = (("m1.tiny", 1, 512, 1), ("m1.small", 1, 2048, 4), ("m1.medium", 2, 4096, 8))
IMAGE_NAME = "cirros-sim"
#: Size of the seeded image; its bytes are a deterministic pseudo-random stream.
IMAGE_SIZE = 2 << 20
NETWORK_NAME = "devcloud-net"
_CIDRS = {"source": "10.10.0.0/24", "destination": "10.20.0.0/24"}


def image_bytes() -> bytes:
    """The seeded image's content (the same in both regions, so a migrated disk can be checked)."""
    return disks.stamp("devcloud", IMAGE_NAME, IMAGE_SIZE)


def admin_connection(layout: lay.Layout, region: str) -> Any:
    """An openstacksdk connection as the cloud's admin in ``region``."""
    return openstack.connect(
        auth_url=layout.auth_url, username="admin", password=lay.ADMIN_PASSWORD,
        project_name="admin", user_domain_name="Default", project_domain_name="Default",
        region_name=region, identity_api_version="3", load_yaml_config=False,
        load_envvars=False)


def find(finder: Any, name: str, **kwargs: Any) -> Any:
    """``finder(name)`` or None; sdk 4.x deprecates its own ``ignore_missing=True`` default."""
    try:
        return finder(name, ignore_missing=False, **kwargs)
    except openstack.exceptions.NotFoundException:
        return None


def _role(conn: Any, name: str) -> Any:
    return find(conn.identity.find_role, name) or conn.identity.create_role(name=name)


def _project(conn: Any, name: str, description: str) -> Any:
    return (find(conn.identity.find_project, name, domain_id="default")
            or conn.identity.create_project(name=name, domain_id="default", description=description))


def _user(conn: Any, name: str, password: str, project: Any) -> Any:
    return (find(conn.identity.find_user, name, domain_id="default")
            or conn.identity.create_user(name=name, password=password, domain_id="default",
                                         default_project_id=project.id))


def _grant(conn: Any, project: Any, user: Any, roles: Iterable[Any]) -> None:
    for role in roles:
        if not conn.identity.validate_user_has_project_role(project, user, role):
            conn.identity.assign_project_role_to_user(project, user, role)


def seed_catalog(layout: lay.Layout, object_store_url: str = "") -> None:
    """Regions, projects, users, roles, services and endpoints of both regions in Keystone.

    ``object_store_url`` (a template with ``%(project_id)s``) is registered as the object store
    of both regions: one Swift serves them.
    """
    conn = admin_connection(layout, lay.REGIONS[0])
    for region_name in lay.REGIONS:
        if find(conn.identity.find_region, region_name) is None:
            conn.identity.create_region(id=region_name)
    admin_role, member, service_role = _role(conn, "admin"), _role(conn, "member"), _role(conn, "service")
    service = _project(conn, "service", "Service users of the simulated cloud")
    demo = _project(conn, "demo", "An ordinary project of the simulated cloud")
    for name in SERVICE_USERS:
        _grant(conn, service, _user(conn, name, lay.SERVICE_PASSWORD, service), [admin_role, service_role])
    _grant(conn, demo, _user(conn, "demo", lay.DEMO_PASSWORD, demo), [member])
    # admin works in the demo project too, so it can look at (and clean up) the demo's servers
    _grant(conn, demo, find(conn.identity.find_user, "admin", domain_id="default"), [admin_role])
    wanted = [("keystone", "identity", layout.auth_url, r) for r in lay.REGIONS]
    for region in layout.regions():
        for name, kind, port_attr, path in CATALOG:
            wanted.append((name, kind, f"http://127.0.0.1:{getattr(region, port_attr)}{path}", region.name))
    if object_store_url:
        wanted += [("swift", "object-store", object_store_url, r) for r in lay.REGIONS]
    for name, kind, url, region_name in wanted:
        svc = find(conn.identity.find_service, name) or conn.identity.create_service(name=name, type=kind)
        have = {(e.interface, e.region_id) for e in conn.identity.endpoints(service_id=svc.id)}
        for interface in ("public", "internal", "admin"):
            if (interface, region_name) not in have:
                conn.identity.create_endpoint(service_id=svc.id, interface=interface, url=url,
                                              region_id=region_name)
    from opsflow.devcloud import opsflow_api

    opsflow_api.seed_catalog(layout, conn, find, _grant)
    conn.close()


def seed_region(layout: lay.Layout, region: lay.RegionLayout) -> None:
    """Flavors, the seeded image, a shared network and roomy demo quotas in ``region``."""
    conn = admin_connection(layout, region.name)
    for name, vcpus, ram, disk in FLAVORS:
        if find(conn.compute.find_flavor, name) is None:
            conn.compute.create_flavor(name=name, vcpus=vcpus, ram=ram, disk=disk, is_public=True)
    # (find_image warns from inside openstacksdk whatever the caller passes; list by name instead)
    if not list(conn.image.images(name=IMAGE_NAME)):
        conn.image.create_image(
            name=IMAGE_NAME, data=io.BytesIO(image_bytes()), disk_format="raw",
            container_format="bare", visibility="public", wait=True, timeout=120)
    network = find(conn.network.find_network, NETWORK_NAME)
    if network is None:
        network = conn.network.create_network(name=NETWORK_NAME, shared=True)
    if not list(conn.network.subnets(network_id=network.id)):
        conn.network.create_subnet(network_id=network.id, name=f"{NETWORK_NAME}-v4", ip_version=4,
                                   cidr=_CIDRS[region.name], enable_dhcp=False)
    demo = find(conn.identity.find_project, "demo", domain_id="default")
    conn.set_compute_quotas(demo.id, instances=1000, cores=2000, ram=4096000)
    conn.set_network_quotas(demo.id, port=2000)
    conn.close()


def image_id(conn: Any) -> str:
    """Id of the seeded image in the region ``conn`` talks to."""
    (image,) = conn.image.images(name=IMAGE_NAME)
    return str(image.id)


def _reported_after(service: Any, since: datetime.datetime) -> bool:
    """Whether ``service`` last reported to nova after ``since`` (UTC without a zone, as nova stores it)."""
    if not service.updated_at:
        return False
    return datetime.datetime.fromisoformat(service.updated_at).replace(tzinfo=None) > since


def _sim_index(host: str, prefix: str) -> int | None:
    """The number NNN of a simulated hypervisor named ``<prefix>NNN``; None for any other host."""
    number = host[len(prefix):] if host.startswith(prefix) else ""
    return int(number) if number.isdigit() else None


def forget_hypervisors(layout: lay.Layout, region: lay.RegionLayout, hosts: int) -> list[str]:
    """Delete the compute services of numbered hypervisors beyond the ``hosts`` the region now runs.

    A cloud shrunk from a bigger shape (``devcloud resize``, a benchmark's 100 hosts) keeps the
    others registered and down: nova lists them, its scheduler logs each one on every request, and
    Placement keeps their inventory. nova deletes a service's compute node and resource provider
    with it. A host that still holds servers is kept (nova refuses with 409, naming them). Returns
    the hosts forgotten.
    """
    conn = admin_connection(layout, region.name)
    forgotten = []
    try:
        for service in conn.compute.services(binary="nova-compute"):
            index = _sim_index(service.host, region.host_prefix)
            if index is None or index <= hosts:
                continue
            try:
                conn.compute.delete_service(service)
            except openstack.exceptions.ConflictException as exc:
                LOG.warning("keeping hypervisor %s, which the cloud no longer runs: %s", service.host, exc)
                continue
            forgotten.append(service.host)
    finally:
        conn.close()
    if forgotten:
        LOG.info("%s: forgot %d hypervisor(s) the cloud no longer runs", region.name, len(forgotten))
    return forgotten


def wait_for_hypervisors(layout: lay.Layout, region: lay.RegionLayout, hosts: int, timeout: float,
                         discover: Any, heard_since: datetime.datetime | None = None) -> None:
    """Wait until ``hosts`` compute services are up and mapped to the cell (``discover`` maps them).

    With ``heard_since`` (UTC), each must also have reported after that moment: a heartbeat sent
    while nova-conductor restarted can be lost, and the hypervisor's next one then waits for the
    RPC timeout (60 s) while nova, seeing no report for longer than ``service_down_time``, counts
    it down and schedules nothing there.
    """
    conn = admin_connection(layout, region.name)
    deadline = time.monotonic() + timeout
    since = heard_since.replace(microsecond=0) if heard_since else None  # nova stores whole seconds
    try:
        while True:
            services = [s for s in conn.compute.services(binary="nova-compute")
                        if s.state == "up" and (since is None or _reported_after(s, since))]
            if len(services) >= hosts:
                break
            if time.monotonic() > deadline:
                heard = " since the restart of nova's control services" if since else ""
                raise BringUpFailed(f"{region.name}-compute",
                                    f"{len(services)} of {hosts} simulated hypervisors reported{heard} within "
                                    f"{timeout:.0f} s")
            time.sleep(1)
        while True:
            discover()
            if len(list(conn.compute.hypervisors())) >= hosts:
                return
            if time.monotonic() > deadline:
                raise BringUpFailed(f"{region.name}-compute",
                                    f"hypervisors were not mapped to the cell within {timeout:.0f} s")
            time.sleep(2)
    finally:
        conn.close()
