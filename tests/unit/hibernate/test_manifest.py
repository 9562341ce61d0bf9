"""Manifests and object names: round trips, versions, and the checks that refuse bad input."""

from __future__ import annotations

import json

import pytest

from opsflow.errors import InvalidInput
from opsflow.hibernate.layout import Layout
from opsflow.hibernate.manifest import SCHEMA_VERSION, Manifest, Restore, State

SERVER = {
    "id": "i", "name": "vm", "status": "ACTIVE", "power": "running", "project_id": "p", "user_id": "u",
    "availability_zone": "nova", "host": "sim-sou-001", "description": "d", "metadata": {"k": "v"},
    "tags": ["t"], "volumes": [],
    "flavor": {"name": "m1.tiny", "vcpus": 1, "ram": 512, "disk": 1, "ephemeral": 0, "swap": 0,
               "extra_specs": {"hw:cpu_policy": "shared"}},
    "image": {"id": "img", "name": "cirros-sim", "disk_format": "raw", "container_format": "bare",
              "min_disk": 0, "min_ram": 0, "size": 2097152},
    "keypair": {"name": "k", "public_key": "ssh-ed25519 AAAA", "type": "ssh"},
    "security_groups": [{"name": "default", "description": "", "rules": []}],
    "networks": [{"name": "net", "id": "n", "mac": "fa:16:3e:00:00:01",
                  "subnets": [{"name": "s", "cidr": "10.0.0.0/24", "ip_version": 4, "gateway_ip": "10.0.0.1",
                               "enable_dhcp": True}],
                  "fixed_ips": [{"ip_address": "10.0.0.5", "subnet": "s"}]}],
    "server_group": None,
}
DATA = {
    "schema": 1, "name": "vm", "state": "hibernated", "created": "2026-12-01T10:00:00+00:00", "region": "source",
    "server": SERVER,
    "disk": {"container": "c", "object": "vm/disk", "segment_container": "c_segments", "size": 10,
             "sha256": "a" * 64, "segment_size": 1048576, "segments": 1, "disk_format": "raw",
             "container_format": "bare"},
    "restores": [],
}


def test_round_trip_keeps_every_field() -> None:
    """A manifest parsed from JSON and written again gives the same data."""
    manifest = Manifest.from_json(json.dumps(DATA).encode())
    assert json.loads(manifest.to_json()) == DATA
    assert manifest.server["flavor"]["extra_specs"] == {"hw:cpu_policy": "shared"}


def test_unknown_schema_version_is_refused_naming_both_versions() -> None:
    """A manifest of another schema version is refused, saying which versions are involved."""
    with pytest.raises(InvalidInput, match=f"schema 2 .* reads {SCHEMA_VERSION}"):
        Manifest.from_dict({**DATA, "schema": 2})


def test_malformed_manifest_names_the_field() -> None:
    """A wrong field type is reported with its path."""
    bad = {**DATA, "disk": {**DATA["disk"], "size": "ten"}}
    with pytest.raises(InvalidInput, match="disk/size"):
        Manifest.from_dict(bad)
    no_ip = {**DATA, "server": {**SERVER, "networks": [{**SERVER["networks"][0], "fixed_ips": [{}]}]}}
    with pytest.raises(InvalidInput, match="server/networks/0/fixed_ips/0"):
        Manifest.from_dict(no_ip)


def test_not_json_is_refused() -> None:
    """Bytes that are not JSON are refused as such."""
    with pytest.raises(InvalidInput, match="not JSON"):
        Manifest.from_json(b"\x00not json")


def test_with_state_appends_restores() -> None:
    """Marking restored records the restore and keeps earlier ones."""
    manifest = Manifest.from_dict(DATA)
    restored = manifest.with_state(State.RESTORED, Restore(server_id="s", region="destination", at="now"))
    assert restored.state is State.RESTORED
    assert [r.server_id for r in restored.restores] == ["s"]
    assert manifest.restores == []


def test_layout_names_objects_under_prefix_and_defaults_segment_container() -> None:
    """Object names carry the prefix; the segment container defaults to <container>_segments."""
    lay = Layout(container="c", prefix="team/")
    assert lay.segment_container == "c_segments"
    assert (lay.manifest("vm"), lay.disk("vm")) == ("team/vm/manifest.json", "team/vm/disk")
    assert lay.name_of_manifest("team/vm/manifest.json") == "vm"
    assert lay.name_of_manifest("team/vm/disk") is None


@pytest.mark.parametrize("kwargs", [{"container": "bad/name"}, {"container": ""}, {"prefix": "/abs"}])
def test_bad_layout_is_refused(kwargs: dict[str, str]) -> None:
    """Container names Swift would refuse, and absolute prefixes, are refused up front."""
    with pytest.raises(InvalidInput):
        Layout(**kwargs)


def test_name_with_slash_is_refused() -> None:
    """A hibernation name cannot contain '/' (it would escape its pseudo-folder)."""
    with pytest.raises(InvalidInput, match="no '/'"):
        Layout().disk("a/b")
