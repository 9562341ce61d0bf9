"""Pre-flight checks of a migration: everything that would make a server fail to move, found before
anything is touched, each with the fix an operator can apply.

Blocking problems (a state that cannot move, attached volumes, a name or IP already taken, a flavor
the destination lacks and we may not create, no room in the quota) stop ``apply``; notes (an image
or network that will be created) are shown and do not.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import warnings
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from openstack import warnings as sdk_warnings

from opsflow import clouds
from opsflow.forklift import inventory

__all__ = ["MOVABLE", "Problem", "check"]

#: Nova statuses a server can be moved from.
MOVABLE = ("ACTIVE", "SHUTOFF")


@dataclasses.dataclass(frozen=True)
class Problem:
    """One thing that stands in a server's way, and what to do about it."""

    #: The server's name ("" for the whole plan, e.g. a quota).
    server: str
    #: What is wrong.
    problem: str
    #: What the operator can do.
    fix: str
    #: True when apply must refuse until it is fixed.
    blocking: bool = True

    def line(self) -> str:
        """One line for a terminal."""
        who = f"{self.server}: " if self.server else ""
        return f"{'problem' if self.blocking else 'note'}: {who}{self.problem}; {self.fix}"


def check(destination_cloud: str, servers: Sequence[Mapping[str, Any]],
          mappings: Mapping[str, Any]) -> list[Problem]:
    """Problems of moving ``servers`` (descriptions from :func:`inventory.describe`) to ``destination_cloud``."""
    problems: list[Problem] = []
    dst = clouds.connect(destination_cloud)
    with clouds.errors(destination_cloud, "running the pre-flight checks"):
        admin = clouds.is_admin(dst)
        flavors = {f.name for f in dst.compute.flavors()}
        images = {i.name for i in dst.image.images() if i.status == "active"}
        for server in servers:
            problems += _server(dst, server, mappings, flavors, images, admin)
        problems += _quotas(destination_cloud, servers)
    return problems


def _server(dst: Any, server: Mapping[str, Any], mappings: Mapping[str, Any], flavors: set[str], images: set[str],
            admin: bool) -> list[Problem]:
    name = str(server["name"])
    out = []
    if server["status"] not in MOVABLE:
        out.append(Problem(name, f"is {server['status']}, and only {' or '.join(MOVABLE)} servers move",
                           "let its task finish, or start/stop it, then plan again"))
    if server["volumes"]:
        out.append(Problem(name, f"has attached volumes ({', '.join(server['volumes'])}), which forklift does "
                                 f"not move yet (the test bed has no Cinder)",
                           "detach them and move the data separately, or leave this server out"))
    taken = [s for s in dst.compute.servers(name=f"^{name}$", all_projects=admin)
             if s.project_id == server["project_id"] and (s.metadata or {}).get("forklift:source", "").split("/")[-1]
             != server["id"]]
    if taken:
        out.append(Problem(name, f"a server of that name already exists at the destination ({taken[0].id})",
                           "rename or delete it there, or leave this server out"))
    flavor = inventory.mapped(mappings, "flavors", server["flavor"]["name"])
    if flavor not in flavors:
        out.append(Problem(name, f"flavor {flavor!r} does not exist at the destination",
                           "map it to one that does (mappings.flavors)" if not admin else
                           "it will be created with the source's sizes", blocking=not admin))
    image = server["image"]
    if image and inventory.mapped(mappings, "images", image["name"] or image["id"]) not in images:
        out.append(Problem(name, f"image {image['name'] or image['id']!r} is not at the destination",
                           "it will be copied from the source's Glance (or map it: mappings.images)",
                           blocking=False))
    for net in server["networks"]:
        out += _network(dst, name, net, server["project_id"], mappings)
    return out


def _network(dst: Any, name: str, net: Mapping[str, Any], project: str, mappings: Mapping[str, Any]) -> list[Problem]:
    wanted = inventory.mapped(mappings, "networks", str(net["name"]))
    found = clouds.find_one(dst.network.find_network, wanted)
    if found is None:
        return [Problem(name, f"network {wanted!r} is not at the destination",
                        "it will be created with the source's subnets, keeping the fixed IPs", blocking=False)]
    subnets = [dst.network.get_subnet(sid) for sid in found.subnet_ids or []]
    out = []
    for ip in net["fixed_ips"]:
        address = ipaddress.ip_address(ip["ip_address"])
        if not any(address in ipaddress.ip_network(s.cidr) for s in subnets):
            out.append(Problem(name, f"fixed IP {address} does not fit network {wanted!r} at the destination",
                               "the twin gets a new address there (or map the network to one with that subnet)",
                               blocking=False))
            continue
        users = [p for p in dst.network.ports(network_id=found.id, fixed_ips=f"ip_address={address}")]
        if users:
            out.append(Problem(name, f"fixed IP {address} is taken on {wanted!r} at the destination "
                                     f"(port {users[0].id})", "free it there, or map the network to another"))
    return out


def _quotas(destination_cloud: str, servers: Sequence[Mapping[str, Any]]) -> list[Problem]:
    need: dict[str, dict[str, int]] = defaultdict(lambda: {"instances": 0, "cores": 0, "ram": 0})
    for server in servers:
        total = need[str(server["project_id"])]
        total["instances"] += 1
        total["cores"] += int(server["flavor"]["vcpus"])
        total["ram"] += int(server["flavor"]["ram"])
    out = []
    for project, wanted in need.items():
        with warnings.catch_warnings():  # sdk 4 warns about the deprecated fields it reads itself
            warnings.simplefilter("ignore", sdk_warnings.RemovedFieldWarning)
            limits = clouds.project_connection(destination_cloud, project).compute.get_limits().absolute
        room = {"instances": (limits.instances, limits.instances_used),
                "cores": (limits.total_cores, limits.total_cores_used),
                "ram": (limits.total_ram, limits.total_ram_used)}
        for kind, (cap, used) in room.items():
            if cap is not None and cap >= 0 and used + wanted[kind] > cap:
                out.append(Problem("", f"project {project} needs {wanted[kind]} more {kind} at the destination "
                                       f"but has {cap - used} left of {cap}",
                                   "raise its quota there (openstack quota set) or move fewer servers"))
    return out
