"""The manifest of a hibernated server: everything needed to boot it again as it was.

A manifest is JSON in Swift next to the disk (see :mod:`opsflow.hibernate.layout`). It carries a
``schema`` version: a reader refuses a version it does not know instead of restoring a server
from fields it misreads. ``server`` is the description forklift reads of a server it migrates
(:mod:`opsflow.forklift.inventory`: name, description, metadata, tags, owner project and user,
availability zone, original host, flavor by name *and* properties, image reference, keypair with
its public key, security groups with their rules, each port's network, subnets, MAC and fixed IPs,
server group, power state), so a restore hands the same pieces to the same actions a migration
uses. Version 1 checks the keys a restore relies on; ``disk`` is the copy (objects, size,
SHA-256); ``state`` says how far the hibernation got; restores append to ``restores``.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Any

import jsonschema

from opsflow.errors import InvalidInput

__all__ = ["SCHEMA_VERSION", "DiskCopy", "Manifest", "Restore", "State"]

#: Version of the manifest layout written by this code.
SCHEMA_VERSION = 1

#: Upper bound on a manifest's size when read back, so a wrong object cannot exhaust memory.
MAX_BYTES = 4 << 20


class State(enum.Enum):
    """How far a hibernation got."""

    #: Disk and manifest are written, not yet read back.
    COPIED = "copied"
    #: Disk and manifest are in Swift and read back equal; the server may still exist.
    VERIFIED = "verified"
    #: The server is gone; the Swift copy is the server.
    HIBERNATED = "hibernated"
    #: A server was booted again from the copy (the copy stays until deleted on request).
    RESTORED = "restored"


@dataclasses.dataclass(frozen=True)
class DiskCopy:
    """The disk in Swift."""

    #: Data container.
    container: str
    #: Disk object (a Static Large Object).
    object: str
    #: Segment container.
    segment_container: str
    #: Bytes.
    size: int
    #: SHA-256 of the bytes, hex.
    sha256: str
    #: Segment size used.
    segment_size: int
    #: Number of segments.
    segments: int
    #: Disk format of the snapshot (raw, qcow2...), given back to Glance on restore.
    disk_format: str = "raw"
    #: Container format of the snapshot.
    container_format: str = "bare"


@dataclasses.dataclass(frozen=True)
class Restore:
    """One restore of this manifest."""

    #: Server id booted.
    server_id: str
    #: Region it was booted in.
    region: str
    #: When (ISO 8601, UTC).
    at: str
    #: Notes (a fixed IP that was taken, who booted it, ...).
    notes: list[str] = dataclasses.field(default_factory=list)
    #: The user nova records as the booted server's: whoever ran the restore, an admin's own user
    #: when an admin restored it ("" in manifests written before this was kept). The owner as it
    #: was stays in ``server.user_id``: nova takes a server's user from the token that boots it,
    #: and no API changes it afterwards.
    user_id: str = ""


@dataclasses.dataclass(frozen=True)
class Manifest:
    """A hibernated server."""

    #: Name the copy is filed under (the server's name unless the operator chose another).
    name: str
    #: The server as it was (forklift's server description).
    server: dict[str, Any]
    #: Region the server ran in.
    region: str
    #: Its disk in Swift.
    disk: DiskCopy
    #: How far hibernation got.
    state: State
    #: When the copy was made (ISO 8601, UTC).
    created: str
    #: Restores, oldest first.
    restores: list[Restore] = dataclasses.field(default_factory=list)
    #: Layout version.
    schema: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        data = dataclasses.asdict(self)
        data["state"] = self.state.value
        return data

    def to_json(self) -> bytes:
        """The bytes stored in Swift."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True).encode()

    @classmethod
    def from_dict(cls, data: Any) -> Manifest:
        """Parse and check a manifest; InvalidInput names the first problem."""
        if isinstance(data, dict) and data.get("schema") != SCHEMA_VERSION:
            raise InvalidInput(f"manifest schema {data.get('schema')!r} is not one this opsflow reads "
                               f"(it reads {SCHEMA_VERSION}); use the opsflow release that wrote it")
        try:
            jsonschema.validate(data, _SCHEMA)
        except jsonschema.ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "(top)"
            raise InvalidInput(f"manifest is malformed at {where}: {exc.message}") from exc
        return cls(name=data["name"], server=dict(data["server"]), region=data["region"], disk=DiskCopy(**data["disk"]),
                   state=State(data["state"]), created=data["created"],
                   restores=[Restore(**r) for r in data.get("restores", [])], schema=data["schema"])

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        """Parse stored bytes."""
        if len(raw) > MAX_BYTES:
            raise InvalidInput(f"manifest is {len(raw)} bytes, more than {MAX_BYTES}: not an opsflow manifest")
        try:
            return cls.from_dict(json.loads(raw))
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"manifest is not JSON: {exc}") from exc

    def with_state(self, state: State, restore: Restore | None = None) -> Manifest:
        """A copy in ``state``, with ``restore`` appended when given."""
        restores = self.restores + ([restore] if restore else [])
        return dataclasses.replace(self, state=state, restores=restores)


def _object(properties: dict[str, Any], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "additionalProperties": False,
            "required": [k for k in properties if k not in optional]}


_STR, _INT = {"type": "string"}, {"type": "integer", "minimum": 0}
_STRS = {"type": "array", "items": _STR}
_STR_MAP = {"type": "object", "additionalProperties": _STR}

_SCHEMA = _object({
    "schema": {"const": SCHEMA_VERSION},
    "name": _STR,
    "state": {"enum": [s.value for s in State]},
    "created": _STR,
    "restores": {"type": "array", "items": _object(
        {"server_id": _STR, "region": _STR, "at": _STR, "notes": _STRS, "user_id": _STR},
        optional=("notes", "user_id"))},
    "disk": _object({"container": _STR, "object": _STR, "segment_container": _STR, "size": _INT,
                     "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}, "segment_size": _INT,
                     "segments": _INT, "disk_format": _STR, "container_format": _STR},
                    optional=("disk_format", "container_format")),
    "region": _STR,
    "server": {
        "type": "object",
        "required": ["id", "name", "status", "project_id", "user_id", "availability_zone", "host", "description",
                     "metadata", "tags", "flavor", "image", "keypair", "security_groups", "networks",
                     "server_group"],
        "properties": {
            "id": _STR, "name": _STR, "status": _STR, "project_id": _STR, "user_id": _STR,
            "availability_zone": _STR, "host": _STR, "description": _STR, "metadata": _STR_MAP, "tags": _STRS,
            "flavor": {"type": "object", "required": ["name", "vcpus", "ram", "disk"],
                       "properties": {"name": _STR, "vcpus": _INT, "ram": _INT, "disk": _INT,
                                      "extra_specs": _STR_MAP}},
            "image": {"type": ["object", "null"]},
            "keypair": {"type": ["object", "null"], "required": ["name", "public_key"]},
            "security_groups": {"type": "array", "items": {"type": "object", "required": ["name", "rules"]}},
            "networks": {"type": "array", "items": {
                "type": "object", "required": ["name", "id", "fixed_ips", "subnets"],
                "properties": {"fixed_ips": {"type": "array", "items": {
                    "type": "object", "required": ["ip_address"], "properties": {"ip_address": _STR}}}}}},
            "server_group": {"type": ["object", "null"]},
        },
    },
}, optional=("restores",))
