"""Neutron actions: make a server's security groups (with their rules) and networks (with subnets)
exist at the destination, mapped by name, recording exactly what was made so a revert removes that.

Rules this task adds carry the run's tag as their description; groups and networks it creates are
remembered in the task's durable memory (see :meth:`opsflow.clouds.CloudAction.first_look`), so
existing ones — a project's ``default`` group, a shared network — are never deleted by a revert.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from typing import Any

from opsflow import clouds
from opsflow.clouds import CloudAction
from opsflow.forklift import inventory

__all__ = ["EnsureNetworks", "EnsureSecurityGroups", "FreeFixedIps"]

LOG = logging.getLogger(__name__)

_RULE_KEYS = ("direction", "ethertype", "protocol", "port_range_min", "port_range_max", "remote_ip_prefix")


def _rule_key(rule: Mapping[str, Any], remote_group_id: str | None) -> tuple[Any, ...]:
    return (*(rule.get(key) for key in _RULE_KEYS), remote_group_id)


def _group_in(conn: Any, name: str, project: str) -> Any:
    return next(iter(conn.network.security_groups(name=name, project_id=project)), None)


class EnsureSecurityGroups(CloudAction):
    """Make each of the server's security groups exist in its project with at least the source's rules."""

    doing = "preparing the security groups"

    def execute(self, cloud: str, groups: list[Mapping[str, Any]], project: str,
                mappings: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``{"names": [...destination group names...], "created": [...], "rules_added": N}``."""
        conn = clouds.connect(cloud)
        ids: dict[str, str] = {}
        created = []
        for group in groups:
            name = inventory.mapped(mappings, "security_groups", str(group["name"]))
            found = _group_in(conn, name, project)
            if not self.first_look(name, found is not None):
                created.append(name)
            if found is None:
                found = conn.network.create_security_group(name=name, description=group["description"],
                                                           project_id=project)
            ids[str(group["name"])] = found.id
        added = 0
        for group in groups:
            group_id = ids[str(group["name"])]
            have = {_rule_key(rule, rule.get("remote_group_id"))
                    for rule in conn.network.get_security_group(group_id).security_group_rules or []}
            for rule in group["rules"]:
                remote = ids.get(rule["remote_group"]) if rule.get("remote_group") else None
                if rule.get("remote_group") and remote is None:
                    LOG.warning("rule of %s names group %s, which the server is not in; skipped",
                                group["name"], rule["remote_group"])
                    continue
                if _rule_key(rule, remote) in have:
                    continue
                conn.network.create_security_group_rule(
                    security_group_id=group_id, project_id=project, remote_group_id=remote,
                    description=self.context.tag, **{key: rule.get(key) for key in _RULE_KEYS})
                added += 1
        names = [inventory.mapped(mappings, "security_groups", str(g["name"])) for g in groups]
        return {"names": names, "created": created, "rules_added": added}

    def revert(self, cloud: str, groups: list[Mapping[str, Any]], project: str,
               mappings: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        """Delete the rules this task added (by their tag) and the groups it created."""
        conn = clouds.connect(cloud)
        for rule in conn.network.security_group_rules(project_id=project):
            if rule.description == self.context.tag:
                conn.network.delete_security_group_rule(rule, ignore_missing=True)
        for group in groups:
            name = inventory.mapped(mappings, "security_groups", str(group["name"]))
            found = _group_in(conn, name, project)
            if found is not None and not self.first_look(name, True):
                conn.network.delete_security_group(found, ignore_missing=True)


def _fits(ip: str, subnets: list[Any]) -> bool:
    address = ipaddress.ip_address(ip)
    return any(address in ipaddress.ip_network(subnet.cidr) for subnet in subnets)


class EnsureNetworks(CloudAction):
    """Find each of the server's networks at the destination by (mapped) name, or create it with the
    source's subnets; say which fixed IPs the destination can keep."""

    doing = "preparing the networks"

    def execute(self, cloud: str, networks: list[Mapping[str, Any]], project: str,
                mappings: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """One ``{"uuid", "name", "fixed_ip"?, "created"}`` per source port, in port order: what
        ``compute.create_server`` takes as ``networks``. A fixed IP is kept where a destination
        subnet of that network contains it."""
        conn = clouds.connect(cloud)
        out = []
        for net in networks:
            name = inventory.mapped(mappings, "networks", str(net["name"]))
            found = clouds.find_one(conn.network.find_network, name, project_id=project) or \
                clouds.find_one(conn.network.find_network, name)
            created = not self.first_look(name, found is not None)
            if found is None:
                found = self._create(conn, name, net, project)
            subnets = [conn.network.get_subnet(sid) for sid in found.subnet_ids or []]
            entry: dict[str, Any] = {"uuid": found.id, "name": name, "created": created}
            ips = [ip["ip_address"] for ip in net["fixed_ips"] if _fits(ip["ip_address"], subnets)]
            if ips:
                entry["fixed_ip"] = ips[0]
            out.append(entry)
        return out

    def _create(self, conn: Any, name: str, net: Mapping[str, Any], project: str) -> Any:
        network = conn.network.create_network(name=name, project_id=project, description=self.context.tag)
        for subnet in net["subnets"]:
            conn.network.create_subnet(network_id=network.id, name=subnet["name"], cidr=subnet["cidr"],
                                       ip_version=subnet["ip_version"], gateway_ip=subnet["gateway_ip"],
                                       enable_dhcp=subnet["enable_dhcp"], project_id=project)
        LOG.info("created network %s (%d subnets) for project %s", name, len(net["subnets"]), project)
        return conn.network.get_network(network.id)

    def revert(self, cloud: str, networks: list[Mapping[str, Any]], project: str,
               mappings: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        """Delete the networks this task created (their subnets and any leftover ports with them)."""
        conn = clouds.connect(cloud)
        for net in networks:
            name = inventory.mapped(mappings, "networks", str(net["name"]))
            if self.first_look(name, True):
                continue
            found = clouds.find_one(conn.network.find_network, name, project_id=project)
            if found is None or found.description != self.context.tag:
                continue
            for port in conn.network.ports(network_id=found.id):
                if port.device_owner in ("", "compute:nova") and not port.device_id:
                    conn.network.delete_port(port, ignore_missing=True)
            conn.network.delete_network(found, ignore_missing=True)


class FreeFixedIps(CloudAction):
    """Keep each wanted fixed IP only where no port holds it now; say which ones could not be kept.

    Takes ``network.ensure_networks``' result. A restore or migration asks for the address a server
    had; if another port took it meanwhile, asking would fail the boot, so the server gets a fresh
    address on the same network and the note says so.
    """

    doing = "checking fixed IPs"

    def execute(self, cloud: str, networks: list[Mapping[str, Any]]) -> dict[str, Any]:
        """``{"networks": [...same entries, taken fixed_ip dropped...], "notes": ["..."]}``."""
        conn = clouds.connect(cloud)
        out, notes = [], []
        for net in networks:
            entry = dict(net)
            ip = entry.get("fixed_ip")
            if ip:
                holders = list(conn.network.ports(network_id=entry["uuid"], fixed_ips=f"ip_address={ip}"))
                if holders:
                    del entry["fixed_ip"]
                    notes.append(f"fixed IP {ip} on network {entry.get('name') or entry['uuid']} is taken by port "
                                 f"{holders[0].id}; the server gets another address there")
            out.append(entry)
        return {"networks": out, "notes": notes}

    def revert(self, **kwargs: Any) -> None:
        """Checking changed nothing."""
