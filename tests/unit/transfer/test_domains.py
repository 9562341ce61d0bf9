"""libvirt discovery against libvirt's own test driver (``test:///PATH.xml``) with nova-style domains."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsflow.errors import TransferFailed
from opsflow.transfer import domains

RUNNING_UUID = "0e7ec5a4-6b63-4a4e-9b61-2a1c7b53d001"
STOPPED_UUID = "0e7ec5a4-6b63-4a4e-9b61-2a1c7b53d002"
OVERLAY_UUID = "0e7ec5a4-6b63-4a4e-9b61-2a1c7b53d003"
FOREIGN_UUID = "0e7ec5a4-6b63-4a4e-9b61-2a1c7b53d004"
NOVA = f'<metadata><nova:instance xmlns:nova="{domains.NOVA_NAMESPACE}"><nova:name>vm</nova:name>' \
       '</nova:instance></metadata>'


def _domain(name: str, uuid: str, disks: str, *, runstate: int = 1, metadata: str = NOVA) -> str:
    return f"""
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>{name}</name><uuid>{uuid}</uuid><memory>65536</memory><vcpu>1</vcpu>
    <os><type arch='x86_64'>hvm</type></os>
    {metadata}
    <devices>{disks}</devices>
    <test:runstate>{runstate}</test:runstate>
  </domain>"""


def _disk(path: str, dev: str, fmt: str = "raw", backing: str = "") -> str:
    store = f"<backingStore type='file'><format type='raw'/><source file='{backing}'/></backingStore>" \
        if backing else ""
    return f"""<disk type='file' device='disk'><driver name='qemu' type='{fmt}'/>
      <source file='{path}'/>{store}<target dev='{dev}' bus='virtio'/></disk>"""


@pytest.fixture
def uri(tmp_path: Path) -> str:
    """A libvirt test-driver host with nova instances: running, shut off, a qcow2 overlay, a foreign one."""
    node = tmp_path / "host.xml"
    node.write_text("<node>" + "".join([
        _domain("instance-00000001", RUNNING_UUID,
                "<disk type='file' device='cdrom'><source file='/i/config.iso'/><target dev='hdd'/></disk>"
                + _disk("/var/lib/nova/instances/a/disk", "vda") + _disk("/var/lib/nova/instances/a/eph", "vdb")),
        _domain("instance-00000002", STOPPED_UUID, _disk("/var/lib/nova/instances/b/disk", "vda"), runstate=5),
        _domain("instance-00000003", OVERLAY_UUID,
                _disk("/var/lib/nova/instances/c/disk", "vda", "qcow2", "/var/lib/nova/instances/_base/f00")),
        _domain("not-nova", FOREIGN_UUID, _disk("/x/disk", "vda"), metadata=""),
    ]) + "</node>")
    return f"test://{node}"


def test_running_instance_gives_its_first_disk(uri: str) -> None:
    """By uuid: the first disk device (not the config drive), its format, and that the domain runs."""
    assert domains.find(uri, RUNNING_UUID, "") == domains.Domain(
        name="instance-00000001", disk="/var/lib/nova/instances/a/disk", format="raw", running=True)


def test_device_picks_another_disk(uri: str) -> None:
    """`device:` chooses a disk by its target."""
    assert domains.find(uri, RUNNING_UUID, "", "vdb").disk == "/var/lib/nova/instances/a/eph"


def test_shut_off_instance_is_not_running(uri: str) -> None:
    """A shut-off domain is reported stopped, found by its nova name when the uuid lookup misses."""
    found = domains.find(uri, STOPPED_UUID, "instance-00000002")
    assert (found.running, found.disk) == (False, "/var/lib/nova/instances/b/disk")


def test_unknown_instance_says_to_check_the_host(uri: str) -> None:
    """An instance the host does not have fails with one line naming it."""
    with pytest.raises(TransferFailed, match=r"has no domain for instance 0e7e.*check that the server runs"):
        domains.find(uri, "0e7ec5a4-6b63-4a4e-9b61-2a1c7b53dfff", "instance-000000ff")


def test_name_of_another_instance_is_refused(uri: str) -> None:
    """A domain with the right name but another uuid is not taken for the instance."""
    with pytest.raises(TransferFailed, match="belongs to instance"):
        domains.find(uri, "0e7ec5a4-6b63-4a4e-9b61-2a1c7b53dfff", "instance-00000002")


def test_qcow2_overlay_is_refused_with_the_alternatives(uri: str) -> None:
    """An overlay on a base image the destination lacks is refused, naming image mode and flat disks."""
    with pytest.raises(TransferFailed, match=r"qcow2 overlay on /var/lib/nova/instances/_base/f00.*image mode"):
        domains.find(uri, OVERLAY_UUID, "")


def test_domain_without_nova_metadata_is_refused(uri: str) -> None:
    """A domain nova did not make is never copied."""
    with pytest.raises(TransferFailed, match="no nova metadata"):
        domains.find(uri, FOREIGN_UUID, "")


def test_missing_device_names_the_disks(uri: str) -> None:
    """Asking for a target the domain lacks lists the ones it has."""
    with pytest.raises(TransferFailed, match=r"has no disk vdz \(its disks: vda, vdb\)"):
        domains.find(uri, RUNNING_UUID, "", "vdz")


def test_unreachable_libvirt_is_one_line(tmp_path: Path) -> None:
    """A URI libvirt cannot open fails with one line naming it."""
    with pytest.raises(TransferFailed, match=r"libvirt at test://.*nope.xml cannot be reached"):
        domains.find(f"test://{tmp_path}/nope.xml", RUNNING_UUID, "")
