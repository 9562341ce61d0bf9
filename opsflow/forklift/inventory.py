"""What a migration must know about one source server, read from Nova, Neutron and Glance at once.

The description is plain data (it is stored with the run and shown in plans), keyed as:

``id, name, status, power ("running"|"shutoff"|...), project_id, user_id, availability_zone, host,
description, metadata, tags, volumes``; ``flavor {name, vcpus, ram, disk, ephemeral, swap,
extra_specs}``; ``image {id, name, disk_format, container_format, min_disk, min_ram, size}`` or
None; ``keypair {name, public_key, type}`` or None; ``security_groups [{name, description, rules
[{direction, ethertype, protocol, port_range_min, port_range_max, remote_ip_prefix,
remote_group}]}]``; ``networks [{name, id, mac, subnets [{name, cidr, ip_version, gateway_ip,
enable_dhcp}], fixed_ips [{ip_address, subnet}]}]``; ``server_group {name, policy}`` or None.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opsflow import clouds
from opsflow.errors import ActionFailed

__all__ = ["describe", "find_server", "mapped", "POWER"]

#: Nova status -> what a migration calls the power state it must restore.
POWER = {"ACTIVE": "running", "SHUTOFF": "shutoff"}

#: Keys of a security group rule that carry over to another cloud as they are.
_RULE_KEYS = ("direction", "ethertype", "protocol", "port_range_min", "port_range_max", "remote_ip_prefix")


def mapped(mappings: Mapping[str, Any] | None, kind: str, name: str) -> str:
    """The destination name of source resource ``name`` of ``kind`` (flavors, images, networks,
    security_groups, keypairs, availability_zones): the mapping's entry, else the same name."""
    table = (mappings or {}).get(kind) or {}
    return str(table.get(name, name))


def find_server(conn: Any, cloud: str, server: str) -> Any:
    """The server with this id or name (in any project when the cloud's user may see them all)."""
    found = clouds.find_one(conn.compute.find_server, server)
    if found is None and clouds.is_admin(conn):
        found = clouds.find_one(conn.compute.find_server, server, all_projects=True)
    if found is not None:
        found = conn.compute.get_server(found.id)
    if found is None:
        raise ActionFailed(f"no server {server!r} at {cloud}; check the id or name (`openstack server list`)")
    return found


def describe(cloud: str, server: str) -> dict[str, Any]:
    """Everything about ``server`` at ``cloud`` a migration copies or checks (keys in the module doc)."""
    conn = clouds.connect(cloud)
    srv = find_server(conn, cloud, server)
    ports = list(conn.network.ports(device_id=srv.id))
    return {
        "id": srv.id,
        "name": srv.name,
        "status": srv.status,
        "power": POWER.get(srv.status, srv.status.lower()),
        "project_id": srv.project_id,
        "user_id": srv.user_id,
        "availability_zone": srv.availability_zone or "",
        "host": srv.compute_host or "",
        "description": srv.description or "",
        "metadata": dict(srv.metadata or {}),
        "tags": sorted(srv.tags or []),
        "volumes": [v["id"] for v in srv.attached_volumes or []],
        "flavor": _flavor(srv.flavor),
        "image": _image(conn, srv),
        "keypair": _keypair(conn, srv),
        "security_groups": _security_groups(conn, ports),
        "networks": [_network(conn, port) for port in ports],
        "server_group": _server_group(conn, srv),
    }


def _flavor(flavor: Any) -> dict[str, Any]:
    return {
        "name": flavor.get("original_name") or flavor.get("name"),
        "vcpus": flavor["vcpus"],
        "ram": flavor["ram"],
        "disk": flavor["disk"],
        "ephemeral": flavor.get("ephemeral") or 0,
        "swap": flavor.get("swap") or 0,
        "extra_specs": dict(flavor.get("extra_specs") or {}),
    }


def _image(conn: Any, srv: Any) -> dict[str, Any] | None:
    image_id = (srv.image or {}).get("id")
    if not image_id:
        return None
    image = clouds.find_one(conn.image.get_image, image_id)
    if image is None:  # deleted since the boot: the disk is all there is
        return {"id": image_id, "name": "", "disk_format": "raw", "container_format": "bare",
                "min_disk": 0, "min_ram": 0, "size": 0}
    return {"id": image.id, "name": image.name, "disk_format": image.disk_format or "raw",
            "container_format": image.container_format or "bare", "min_disk": image.min_disk or 0,
            "min_ram": image.min_ram or 0, "size": image.size or 0}


def _keypair(conn: Any, srv: Any) -> dict[str, Any] | None:
    if not srv.key_name:
        return None
    key = clouds.find_one(conn.compute.get_keypair, srv.key_name, user_id=srv.user_id)
    if key is None:
        raise ActionFailed(f"server {srv.id} names keypair {srv.key_name!r}, which its owner no longer has; "
                           f"recreate it or map it (mappings.keypairs)")
    return {"name": key.name, "public_key": key.public_key, "type": key.type or "ssh"}


def _security_groups(conn: Any, ports: list[Any]) -> list[dict[str, Any]]:
    ids = list(dict.fromkeys(gid for port in ports for gid in port.security_group_ids or []))
    groups = {gid: conn.network.get_security_group(gid) for gid in ids}
    names = {gid: group.name for gid, group in groups.items()}
    out = []
    for gid in ids:
        group = groups[gid]
        rules = []
        for rule in group.security_group_rules or []:
            entry = {key: rule.get(key) for key in _RULE_KEYS}
            remote = rule.get("remote_group_id")
            entry["remote_group"] = names.get(remote, group.name if remote == gid else None) if remote else None
            rules.append(entry)
        out.append({"name": group.name, "description": group.description or "",
                    "rules": sorted(rules, key=lambda r: sorted((k, str(v)) for k, v in r.items()))})
    return out


def _network(conn: Any, port: Any) -> dict[str, Any]:
    network = conn.network.get_network(port.network_id)
    subnets = [conn.network.get_subnet(sid) for sid in network.subnet_ids or []]
    by_id = {subnet.id: subnet for subnet in subnets}
    return {
        "name": network.name,
        "id": network.id,
        "mac": port.mac_address,
        "subnets": [{"name": s.name, "cidr": s.cidr, "ip_version": s.ip_version, "gateway_ip": s.gateway_ip,
                     "enable_dhcp": bool(s.is_dhcp_enabled)} for s in subnets],
        "fixed_ips": [{"ip_address": ip["ip_address"], "subnet": by_id[ip["subnet_id"]].name
                       if ip["subnet_id"] in by_id else ""} for ip in port.fixed_ips or []],
    }


def _server_group(conn: Any, srv: Any) -> dict[str, Any] | None:
    for group_id in srv.server_groups or []:
        group = clouds.find_one(conn.compute.get_server_group, group_id)
        if group is not None:
            return {"name": group.name, "policy": group.policy or (group.policies or ["anti-affinity"])[0]}
    return None
