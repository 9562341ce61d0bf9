"""Nova actions: read a server whole, make its flavor, keypair and server group exist, create,
rebuild, stop, start, verify and finish servers.

Every action takes cloud names (``clouds.yaml``) and plain values, returns plain values (they are
stored with the run), and finds an earlier attempt's work before making anything: a server it
creates carries the run's tag (:func:`opsflow.clouds.short_tag` as a Nova tag, the full tag in
metadata), and what existed before a task first looked is kept in the task's durable memory, so a
revert removes exactly what the task made — also after a crash between "create" and "record".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from opsflow import clouds
from opsflow.clouds import CloudAction
from opsflow.errors import ActionFailed
from opsflow.forklift import inventory
from opsflow.tasks import polling

__all__ = [
    "ClearRunMarkers",
    "CreateServer",
    "EnsureFlavor",
    "EnsureKeypair",
    "EnsureServerGroup",
    "FinishSource",
    "ReadServer",
    "RebuildServer",
    "SetPower",
    "StartServer",
    "StopServer",
    "VerifyServer",
    "WaitServer",
]

LOG = logging.getLogger(__name__)

#: Metadata key holding the full tag of the task that created a server.
TAG_KEY = "opsflow:tag"
#: Metadata key naming where a migrated server came from (``cloud/server id``).
SOURCE_KEY = "forklift:source"
#: Metadata key and Nova tag put on a source server by ``finish: tag``.
MOVED_KEY = "forklift:moved-to"
MOVED_TAG = "forklift-moved"


class ReadServer(CloudAction):
    """Read everything a migration needs about one server: flavor, image, keypair, security groups
    with rules, networks with subnets and fixed IPs, metadata, tags, server group, AZ, power state,
    owner project and user, host (admin view) and attached volumes."""

    doing = "reading the server"

    def execute(self, cloud: str, server: str) -> dict[str, Any]:
        """The server's description (see :mod:`opsflow.forklift.inventory`)."""
        return inventory.describe(cloud, server)

    def revert(self, **kwargs: Any) -> None:
        """Reading changed nothing."""


class EnsureFlavor(CloudAction):
    """Find the source server's flavor at the destination by (mapped) name, or create it there."""

    doing = "preparing the flavor"

    def execute(self, cloud: str, flavor: Mapping[str, Any], mappings: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``{"id", "name", "created"}``; a created flavor is public and has the source's sizes and extra specs."""
        name = inventory.mapped(mappings, "flavors", str(flavor["name"]))
        conn = clouds.connect(cloud)
        found = clouds.find_one(conn.compute.find_flavor, name)
        created = not self.first_look(name, found is not None)
        if found is None:
            found = conn.compute.create_flavor(
                name=name, vcpus=flavor["vcpus"], ram=flavor["ram"], disk=flavor["disk"],
                ephemeral=flavor.get("ephemeral", 0), swap=flavor.get("swap") or 0, is_public=True,
                description=self.context.tag)
            if flavor.get("extra_specs"):
                conn.compute.create_flavor_extra_specs(found, dict(flavor["extra_specs"]))
            LOG.info("created flavor %s at %s", name, cloud)
        return {"id": found.id, "name": name, "created": created}

    def revert(self, cloud: str, flavor: Mapping[str, Any], mappings: Mapping[str, Any] | None = None,
               **kwargs: Any) -> None:
        """Delete the flavor only if this task created it."""
        name = inventory.mapped(mappings, "flavors", str(flavor["name"]))
        if self.first_look(name, True):
            return
        conn = clouds.connect(cloud)
        found = clouds.find_one(conn.compute.find_flavor, name)
        if found is not None:
            conn.compute.delete_flavor(found, ignore_missing=True)


class EnsureKeypair(CloudAction):
    """Make the server's keypair (same name and public key) exist for the destination's user."""

    doing = "preparing the keypair"

    def execute(self, cloud: str, keypair: Mapping[str, Any] | None, project: str = "",
                mappings: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """``{"name", "created"}``, or None for a server without a keypair; a same-named key with
        another public key is refused (it would let the wrong person in)."""
        if not keypair:
            return None
        conn = clouds.project_connection(cloud, project)
        name = inventory.mapped(mappings, "keypairs", str(keypair["name"]))
        found = clouds.find_one(conn.compute.find_keypair, name)
        created = not self.first_look(name, found is not None)
        if found is None:
            conn.compute.create_keypair(name=name, public_key=keypair["public_key"],
                                        type=keypair.get("type") or "ssh")
        elif found.public_key.strip() != str(keypair["public_key"]).strip():
            raise ActionFailed(f"keypair {name!r} at {cloud} has another public key than the source's; "
                               f"map it to another name (mappings.keypairs) or delete it")
        return {"name": name, "created": created}

    def revert(self, cloud: str, keypair: Mapping[str, Any] | None, project: str = "",
               mappings: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        """Delete the keypair only if this task created it."""
        name = inventory.mapped(mappings, "keypairs", str(keypair["name"])) if keypair else ""
        if not keypair or self.first_look(name, True):
            return
        clouds.project_connection(cloud, project).compute.delete_keypair(name, ignore_missing=True)


class EnsureServerGroup(CloudAction):
    """Find or create the server's group (same name and policy) in its project at the destination."""

    doing = "preparing the server group"

    def execute(self, cloud: str, group: Mapping[str, Any] | None, project: str = "") -> dict[str, Any] | None:
        """``{"id", "name", "created"}``, or None when the server is in no group."""
        if not group:
            return None
        conn = clouds.project_connection(cloud, project)
        found = next((g for g in conn.compute.server_groups() if g.name == group["name"]), None)
        created = not self.first_look(str(group["name"]), found is not None)
        if found is None:
            found = conn.compute.create_server_group(name=group["name"], policy=group["policy"])
        return {"id": found.id, "name": found.name, "created": created}

    def revert(self, cloud: str, group: Mapping[str, Any] | None, project: str = "", **kwargs: Any) -> None:
        """Delete the group only if this task created it."""
        if not group or self.first_look(str(group["name"]), True):
            return
        conn = clouds.project_connection(cloud, project)
        for found in conn.compute.server_groups():
            if found.name == group["name"]:
                conn.compute.delete_server_group(found, ignore_missing=True)


def _tagged(conn: Any, tag: str) -> list[Any]:
    return list(conn.compute.servers(tags=clouds.short_tag(tag)))


class CreateServer(CloudAction):
    """Create the destination server in the source's project with the same properties; a second
    try adopts the server the first one made (found by the run's tag) instead of making another."""

    doing = "creating the server"

    def execute(self, cloud: str, server: Mapping[str, Any], flavor: Mapping[str, Any], image: Mapping[str, Any],
                networks: list[Mapping[str, Any]], security_groups: list[str] | None = None,
                keypair: Mapping[str, Any] | None = None, server_group: Mapping[str, Any] | None = None,
                source_cloud: str = "", mappings: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``{"id", "name", "fixed_ips"}`` of the new (or adopted) server; it may still be building."""
        conn = clouds.project_connection(cloud, str(server["project_id"]))
        existing = _tagged(conn, self.context.tag)
        if existing:
            LOG.info("adopting server %s made by an earlier try of %s", existing[0].id, self.context.tag)
            return {"id": existing[0].id, "name": existing[0].name, "fixed_ips": _wanted_ips(networks)}
        metadata = dict(server.get("metadata") or {})
        metadata.update({TAG_KEY: self.context.tag, SOURCE_KEY: f"{source_cloud}/{server['id']}"})
        kwargs: dict[str, Any] = {}
        zone = inventory.mapped(mappings, "availability_zones", server.get("availability_zone") or "")
        if zone and zone in {z.name for z in conn.compute.availability_zones()}:
            kwargs["availability_zone"] = zone
        if server_group:
            kwargs["scheduler_hints"] = {"group": server_group["id"]}
        if keypair:
            kwargs["key_name"] = keypair["name"]
        if server.get("description"):
            kwargs["description"] = server["description"]
        created = conn.compute.create_server(
            name=server["name"], flavor_id=flavor["id"], image_id=image["id"],
            networks=[{k: v for k, v in net.items() if k in ("uuid", "fixed_ip")} for net in networks],
            security_groups=[{"name": name} for name in (security_groups or [])] or None,
            metadata=metadata, tags=[*server.get("tags", []), clouds.short_tag(self.context.tag)], **kwargs)
        return {"id": created.id, "name": server["name"], "fixed_ips": _wanted_ips(networks)}

    def revert(self, cloud: str, server: Mapping[str, Any], **kwargs: Any) -> None:
        """Delete every server this task made (found by its tag) and wait until they are gone."""
        conn = clouds.project_connection(cloud, str(server["project_id"]))
        for made in _tagged(conn, self.context.tag):
            conn.compute.delete_server(made, ignore_missing=True)
            conn.compute.wait_for_delete(made, interval=polling.INTERVAL, wait=polling.TIMEOUT)


def _wanted_ips(networks: list[Mapping[str, Any]]) -> list[str]:
    return [str(net["fixed_ip"]) for net in networks if net.get("fixed_ip")]


class WaitServer(CloudAction):
    """Wait until a server reaches a status (ACTIVE by default); ERROR fails with Nova's fault."""

    doing = "waiting for the server"

    def execute(self, cloud: str, server: str, status: str = "ACTIVE", timeout: float = polling.TIMEOUT) -> dict[str, Any]:
        """``{"id", "status", "host", "at"}`` once the status is reached."""
        found = polling.wait_status(clouds.connect(cloud), server, status, timeout)
        return {"id": found.id, "status": found.status, "host": found.compute_host, "at": time.time()}

    def revert(self, **kwargs: Any) -> None:
        """Waiting changed nothing."""


class SetPower(CloudAction):
    """Bring a server to a power state (``running`` or ``shutoff``) and wait for it; the revert puts
    back the state it had when this task first looked."""

    doing = "changing the server's power state"

    #: When set, the power state this action always brings a server to (stop and start).
    target: str | None = None

    def execute(self, cloud: str, server: str, power: str = "") -> dict[str, Any]:
        """``{"id", "was", "at"}``: the state it had when this task first looked, and when it was done."""
        conn = clouds.connect(cloud)
        current = conn.compute.get_server(server)
        was = inventory.POWER.get(current.status, "")
        remember = self.context.remember
        was = remember("was", was) if remember is not None else was
        _power(conn, current, self.target or power)
        return {"id": server, "was": was, "at": time.time()}

    def revert(self, cloud: str, server: str, **kwargs: Any) -> None:
        """Put the server back in the power state it had before this task (if it still exists)."""
        remember = self.context.remember
        was = remember("was", "") if remember is not None else ""
        conn = clouds.connect(cloud)
        current = clouds.find_one(conn.compute.get_server, server) if was else None
        if current is not None:
            _power(conn, current, str(was))


def _power(conn: Any, current: Any, power: str) -> None:
    """Bring ``current`` (the server as just read) to ``power`` and wait for it, reading no more than needed."""
    status = {power: status for status, power in inventory.POWER.items()}.get(power)
    if status is None:
        raise ActionFailed(f"power {power!r}: say one of {', '.join(inventory.POWER.values())}")
    if current.status == status and not current.task_state:
        return
    asked = current.status != status
    if asked:
        if status == "SHUTOFF":
            conn.compute.stop_server(current)
        else:
            conn.compute.start_server(current)
    polling.wait_status(conn, current.id, status, polling.TIMEOUT, first_look=polling.INTERVAL if asked else 0.0)


class StopServer(SetPower):
    """Stop a server and wait for SHUTOFF; its revert starts it again if it was running."""

    doing = "stopping the server"
    target = "shutoff"


class StartServer(SetPower):
    """Start a server and wait for ACTIVE; its revert stops it again if it was stopped."""

    doing = "starting the server"
    target = "running"


class RebuildServer(CloudAction):
    """Rebuild a server from another image (its disk becomes the image), keeping its ports and power state."""

    doing = "rebuilding the server"

    def execute(self, cloud: str, server: str, image: str) -> dict[str, Any]:
        """``{"id", "image"}`` once the rebuild is over; a server already on ``image`` is left alone."""
        conn = clouds.connect(cloud)
        current = conn.compute.get_server(server)
        if (current.image or {}).get("id") != image or current.task_state:
            want = current.status
            conn.compute.rebuild_server(current, image=image)
            polling.wait_rebuilt(conn, server, image, want, first_look=polling.INTERVAL)
        return {"id": server, "image": image}

    def revert(self, **kwargs: Any) -> None:
        """Nothing to restore: the rebuilt server is deleted by the revert of the task that created it."""


class VerifyServer(CloudAction):
    """Check that a server is ACTIVE and every one of its ports is ACTIVE and bound to its host."""

    doing = "verifying the server"

    def execute(self, cloud: str, server: str, fixed_ips: list[str] | None = None) -> dict[str, Any]:
        """``{"id", "host", "ports", "fixed_ips", "at"}``; fails naming the port that is not bound or
        the fixed IP that was wanted and not given."""
        conn = clouds.connect(cloud)
        found = conn.compute.get_server(server)
        if found.status != "ACTIVE":
            raise ActionFailed(f"server {server} at {cloud} is {found.status}, not ACTIVE")
        ports = list(conn.network.ports(device_id=server))
        if not ports:
            raise ActionFailed(f"server {server} at {cloud} has no port")
        for port in ports:
            # binding details are admin-only; Neutron sets a port ACTIVE only once it is bound
            if port.status != "ACTIVE" or port.binding_vif_type in ("unbound", "binding_failed"):
                raise ActionFailed(f"port {port.id} of server {server} at {cloud} is {port.status} "
                                   f"(binding {port.binding_vif_type}); check the network agents or binder")
        have = sorted(ip["ip_address"] for port in ports for ip in port.fixed_ips)
        missing = [ip for ip in fixed_ips or [] if ip not in have]
        if missing:
            raise ActionFailed(f"server {server} at {cloud} did not get fixed IP {', '.join(missing)} (has {have})")
        return {"id": server, "host": found.compute_host, "ports": [p.id for p in ports], "fixed_ips": have,
                "at": time.time()}

    def revert(self, **kwargs: Any) -> None:
        """Checking changed nothing."""


class FinishSource(CloudAction):
    """Finish with the source server as chosen: ``stop`` leaves it stopped, ``tag`` also tags it as
    moved, ``delete`` deletes it — only when the copy's checksum was verified."""

    doing = "finishing the source server"

    def execute(self, cloud: str, server: str, how: str = "stop", destination: str = "",
                verified: bool = False) -> dict[str, Any]:
        """``{"id", "how"}``."""
        conn = clouds.connect(cloud)
        if how == "delete":
            if not verified:
                raise ActionFailed(f"not deleting source server {server}: the copy's checksum was not verified")
            found = clouds.find_one(conn.compute.get_server, server)
            if found is not None:
                conn.compute.delete_server(found, ignore_missing=True)
                conn.compute.wait_for_delete(found, interval=polling.INTERVAL, wait=polling.TIMEOUT)
        elif how == "tag":
            found = conn.compute.get_server(server)
            conn.compute.set_server_metadata(found, **{MOVED_KEY: destination})
            found.add_tag(conn.compute, MOVED_TAG)
        elif how != "stop":
            raise ActionFailed(f"finish {how!r}: say stop, tag or delete")
        return {"id": server, "how": how}

    def revert(self, cloud: str, server: str, how: str = "stop", **kwargs: Any) -> None:
        """Untag a tagged source; a deleted one cannot come back (hence the checksum gate)."""
        if how != "tag":
            return
        conn = clouds.connect(cloud)
        found = clouds.find_one(conn.compute.get_server, server)
        if found is None:
            return
        conn.compute.delete_server_metadata(found, [MOVED_KEY])
        if MOVED_TAG in (found.tags or []):
            found.remove_tag(conn.compute, MOVED_TAG)


#: Nova tags opsflow puts on servers it creates start with this (see :func:`opsflow.clouds.short_tag`).
_RUN_TAG_PREFIX = "opsflow-"


class ClearRunMarkers(CloudAction):
    """Take the run's adoption markers (tag, ``opsflow:tag`` and ``forklift:source`` metadata) off a
    server, so it carries exactly the metadata and tags it was given; the revert puts them back, so
    ``compute.create_server``'s revert still finds the server to delete."""

    doing = "clearing the run's markers"

    def execute(self, cloud: str, server: str) -> dict[str, Any]:
        """``{"metadata": {...removed...}, "tags": [...removed...]}``."""
        conn = clouds.connect(cloud)
        found = conn.compute.get_server(server)
        markers = {"metadata": {k: v for k, v in (found.metadata or {}).items() if k in (TAG_KEY, SOURCE_KEY)},
                   "tags": [t for t in found.tags or [] if t.startswith(_RUN_TAG_PREFIX)]}
        remember = self.context.remember
        markers = remember("markers", markers) if remember is not None else markers
        if markers["metadata"]:
            conn.compute.delete_server_metadata(found, list(markers["metadata"]))
        for tag in markers["tags"]:
            if tag in (found.tags or []):
                found.remove_tag(conn.compute, tag)
        return dict(markers)

    def revert(self, cloud: str, server: str, **kwargs: Any) -> None:
        """Put the markers back on the server (if it still exists)."""
        remember = self.context.remember
        markers = remember("markers", None) if remember is not None else None
        conn = clouds.connect(cloud)
        found = clouds.find_one(conn.compute.get_server, server)
        if not markers or found is None:
            return
        if markers["metadata"]:
            conn.compute.set_server_metadata(found, **markers["metadata"])
        for tag in markers["tags"]:
            if tag not in (found.tags or []):
                found.add_tag(conn.compute, tag)
