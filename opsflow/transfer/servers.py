"""From a server (cloud name plus name or id) to its disk: which hypervisor, which file, running or not.

The hypervisor comes from the admin view of the server (``OS-EXT-SRV-ATTR:host``), through the
cloud the host-access file names as ``admin_cloud`` (the cloud itself by default); how to reach
that hypervisor and where its disks lie come from the host-access file. With a path rule, the
power state is nova's; with libvirt discovery it is the domain's own, which is the truth on a KVM
host (nova's view lags by up to a sync interval).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openstack import exceptions as sdk_exc

from opsflow import clouds
from opsflow.errors import TransferFailed
from opsflow.transfer import access as host_access
from opsflow.transfer import domains, stream
from opsflow.transfer.access import DiskDiscovery, HostAccess

__all__ = ["ServerDisk", "disk_checksum", "locate"]

#: nova's power_state value of a running server.
RUNNING = 1


@dataclass(frozen=True)
class ServerDisk:
    """A server's disk on its hypervisor."""

    #: The cloud the server was named in.
    cloud: str
    #: The server's uuid.
    server_id: str
    #: Whether the server (its domain, with libvirt discovery) is running.
    running: bool
    #: The disk and its host.
    end: stream.DiskEnd

    @property
    def hypervisor(self) -> str:
        """The hypervisor's name."""
        return self.end.host.hypervisor


def _find_server(cloud: str, server: str) -> Any:
    conn = clouds.connect(cloud)
    with clouds.errors(cloud, f"reading server {server}"):
        try:
            return conn.compute.get_server(server)
        except sdk_exc.NotFoundException:
            pass
        found = [s for s in conn.compute.servers(all_projects=True, name=server) if s.name == server]
    if len(found) != 1:
        what = "no server" if not found else f"{len(found)} servers"
        raise TransferFailed(f"cloud {cloud!r} has {what} named or with id {server!r}; give the server's id")
    return found[0]


def locate(access: HostAccess, cloud: str, server: str) -> ServerDisk:
    """Find ``server``'s hypervisor and disk by the host-access rules of ``cloud``."""
    entry = access.cloud(cloud)
    found = _find_server(entry.admin_cloud, server)
    hypervisor = found.compute_host
    if not hypervisor:
        raise TransferFailed(f"cloud {entry.admin_cloud!r} does not show which host runs server {server!r} "
                             f"(OS-EXT-SRV-ATTR:host needs admin rights); set `admin_cloud:` for {cloud!r} "
                             f"in {access.source}")
    host = entry.host(hypervisor)
    if host.disk.discovery is DiskDiscovery.LIBVIRT:
        domain = domains.find(host.libvirt_uri(), found.id, found.instance_name or "", host.disk.device)
        return ServerDisk(cloud, found.id, domain.running, stream.DiskEnd(host, domain.disk))
    path = host.disk_path(found.id, found.instance_name or "")
    return ServerDisk(cloud, found.id, found.power_state == RUNNING, stream.DiskEnd(host, path))


def disk_checksum(cloud: str, server: str, access: str = "") -> stream.DiskSum:
    """SHA-256 of one server's disk, computed on its hypervisor (``access``: the host-access file,
    default ``$OPSFLOW_HOST_ACCESS``)."""
    return stream.checksum(locate(host_access.load(access), cloud, server).end)
