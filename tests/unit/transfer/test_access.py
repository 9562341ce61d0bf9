"""The host-access file: per cloud, hypervisor patterns to SSH targets and disk locations, checked on load."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsflow.errors import DefinitionError, HostAccessInvalid, InvalidInput
from opsflow.transfer import access

GOOD = """\
clouds:
  old:
    admin_cloud: old-admin
    hypervisors:
      - match: "cmp-*"
        ssh: {user: mover, port: 2222, key: keys/mover, known_hosts: /etc/ssh/cloud_known_hosts,
              options: {ProxyJump: bastion}}
        sudo: true
        python: /usr/bin/python3
        disk: {path: "/var/lib/nova/instances/{uuid}/disk"}
      - match: "*"
        ssh: {host: "{hypervisor}.kvm.example"}
        disk: {libvirt: "qemu+ssh://{user}@{host}/system", device: vdb}
"""


def test_a_rule_resolves_to_an_ssh_target_and_disk_path(tmp_path: Path) -> None:
    """The first matching rule gives user, port, key (relative to the file), sudo and the filled path."""
    hosts = access.parse(GOOD, "ha.yaml", base=tmp_path)
    cloud = hosts.cloud("old")
    assert cloud.admin_cloud == "old-admin"
    host = cloud.host("cmp-7")
    assert host.ssh == access.SshTarget(host="cmp-7", port=2222, user="mover", key=tmp_path / "keys/mover",
                                        known_hosts=Path("/etc/ssh/cloud_known_hosts"),
                                        options=(("ProxyJump", "bastion"),), sudo=True, python="/usr/bin/python3")
    assert host.disk.discovery is access.DiskDiscovery.PATH
    assert host.disk_path("u-1", "instance-00000001") == "/var/lib/nova/instances/u-1/disk"


def test_a_libvirt_rule_fills_its_uri_from_the_ssh_target() -> None:
    """A later rule catches the rest; its libvirt URI is built from the host's SSH address."""
    host = access.parse(GOOD).cloud("old").host("kvm3")
    assert host.disk.discovery is access.DiskDiscovery.LIBVIRT
    assert host.disk.device == "vdb"
    assert host.libvirt_uri() == "qemu+ssh://root@kvm3.kvm.example/system"


def test_admin_cloud_defaults_to_the_cloud_itself() -> None:
    """Without admin_cloud, the cloud's own view is asked for the server's host."""
    text = "clouds:\n  c:\n    hypervisors:\n      - {match: '*', disk: {path: '/d/{uuid}'}}\n"
    assert access.parse(text).cloud("c").admin_cloud == "c"


def test_unknown_cloud_names_the_known_ones() -> None:
    """Asking for a cloud without an entry names the clouds the file has."""
    with pytest.raises(HostAccessInvalid, match=r"no entry for cloud 'new' \(it has: old\)"):
        access.parse(GOOD, "ha.yaml").cloud("new")


def test_unmatched_hypervisor_names_the_patterns() -> None:
    """A hypervisor no rule matches fails with the cloud and its patterns."""
    text = "clouds:\n  c:\n    hypervisors:\n      - {match: 'a-*', disk: {path: '/d/{uuid}'}}\n"
    with pytest.raises(HostAccessInvalid, match=r"no hypervisor rule matching 'b-1' \(patterns: 'a-\*'\)"):
        access.parse(text).cloud("c").host("b-1")


@pytest.mark.parametrize(("text", "message"), [
    ("clouds: {}\n", r"1:9: clouds: must map each cloud name"),
    ("clouds:\n  c:\n    hypervisor: []\n", r"3:17: clouds.c.hypervisor: unknown key 'hypervisor'; allowed here: "
                                          r"admin_cloud, hypervisors"),
    ("clouds:\n  c:\n    hypervisors:\n      - {match: x}\n", r"4:9: clouds.c.hypervisors\[0\]: missing `disk:`"),
    ("clouds:\n  c:\n    hypervisors:\n      - {match: x, ssh: {port: 70000}, disk: {path: /d}}\n",
     r"clouds.c.hypervisors\[0\].ssh.port: must be a port number from 1 to 65535"),
    ("clouds:\n  c:\n    hypervisors:\n      - {match: x, disk: {path: '/d/{id}'}}\n",
     r"disk.path: unknown template field \{id\}; use \{hypervisor\}, \{instance_name\}, \{uuid\}"),
    ("clouds:\n  c:\n    hypervisors:\n      - {match: x, disk: {path: 'd/{uuid}'}}\n",
     r"disk.path: must be an absolute path on the hypervisor"),
    ("clouds:\n  c:\n    hypervisors:\n      - {match: x, disk: {path: /d, libvirt: 'qemu:///system'}}\n",
     r"give exactly one of `path:` \(a template\) or `libvirt:`"),
    ("clouds:\n  c:\n    hypervisors:\n      - {match: x, sudo: yes please, disk: {path: /d}}\n",
     r"sudo: must be true or false"),
    ("clouds:\n  c:\n    hypervisors:\n      - {match: x, ssh: {host: '{name}'}, disk: {path: /d}}\n",
     r"ssh.host: unknown template field \{name\}; use \{hypervisor\}"),
])
def test_mistakes_fail_on_load_with_position_and_fix(text: str, message: str) -> None:
    """Each kind of mistake is one line with file, line, column, the key's path and what to write."""
    with pytest.raises(HostAccessInvalid, match=message):
        access.parse(text, "ha.yaml")


def test_malformed_yaml_is_a_definition_error_at_its_position() -> None:
    """YAML that does not parse is refused as every YAML file opsflow reads is, with its line and column."""
    with pytest.raises(DefinitionError, match=r"^ha\.yaml:2:1: malformed YAML"):
        access.parse("clouds: [\n", "ha.yaml")


def test_bad_file_is_bad_input() -> None:
    """A host-access problem is an input error (exit 2 at the command line), not a failed action."""
    assert issubclass(HostAccessInvalid, InvalidInput)


def test_no_file_given_says_how_to_give_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a path or $OPSFLOW_HOST_ACCESS, load says both ways and where the devcloud writes one."""
    monkeypatch.delenv(access.ENV, raising=False)
    with pytest.raises(HostAccessInvalid, match=r"pass `access: PATH` or set OPSFLOW_HOST_ACCESS"):
        access.load("")


def test_load_reads_the_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """$OPSFLOW_HOST_ACCESS names the file when the action is given none."""
    path = tmp_path / "ha.yaml"
    path.write_text(GOOD)
    monkeypatch.setenv(access.ENV, str(path))
    assert access.load("").cloud("old").host("cmp-1").ssh.key == tmp_path / "keys/mover"


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    """An unreadable file is named with the reason."""
    with pytest.raises(DefinitionError, match=r"nope\.yaml: no such file; check the path"):
        access.load(str(tmp_path / "nope.yaml"))
