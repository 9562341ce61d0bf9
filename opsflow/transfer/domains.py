"""libvirt discovery on KVM hosts: a nova instance's disk file and whether its domain runs.

nova names a domain ``instance-XXXXXXXX`` and gives it the instance's uuid, with nova's metadata
(``http://openstack.org/xmlns/libvirt/nova/1.1``) inside; the disk is whatever the domain XML says,
which is the only reliable answer when ``instances_path``, image backends or rescue disks differ
between hosts. In production the URI is ``qemu+ssh://USER@HOST/system`` (the libvirt client runs
its own ssh); tests use libvirt's test driver, ``test:///PATH.xml``, which serves the same API
from a file of domain XML.

Only file-backed disks can be copied byte for byte: a block or network disk (LVM, Ceph RBD) is
refused, as is a qcow2 overlay on a backing file, whose base (named after the source cloud's image
id) does not exist on the destination host. The error says so and names the alternatives.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from opsflow.errors import TransferFailed

__all__ = ["NOVA_NAMESPACE", "Domain", "find"]

#: nova's libvirt metadata namespace; a domain without it was not made by nova.
NOVA_NAMESPACE = "http://openstack.org/xmlns/libvirt/nova/1.1"
#: libvirt's VIR_DOMAIN_* states in which the guest may still write to its disk.
_WRITING_STATES = {1, 2, 3, 7}  # running, blocked, paused, pmsuspended


@dataclass(frozen=True)
class Domain:
    """What libvirt says about one nova instance."""

    #: The domain's name (``instance-0000002a``).
    name: str
    #: The disk file on the host.
    disk: str
    #: The disk's format (``raw``, ``qcow2``).
    format: str
    #: Whether the guest runs (or could resume writing: paused, suspended).
    running: bool


def _libvirt() -> Any:
    try:
        import libvirt
    except ImportError as exc:
        raise TransferFailed("libvirt discovery needs libvirt-python (pip install libvirt-python; Debian "
                             "needs libvirt-dev and pkg-config to build it)") from exc
    # libvirt prints every error on stderr by default; ours become exceptions with one line instead
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    return libvirt


def find(uri: str, uuid: str, instance_name: str, device: str = "") -> Domain:
    """The domain of instance ``uuid`` (or named ``instance_name``) at ``uri``, and its disk ``device``."""
    libvirt = _libvirt()
    try:
        conn = libvirt.openReadOnly(uri)
    except libvirt.libvirtError as exc:
        raise TransferFailed(f"libvirt at {uri} cannot be reached: {exc.get_error_message()}") from exc
    try:
        dom = _lookup(libvirt, conn, uri, uuid, instance_name)
        state = dom.state()[0]
        xml = dom.XMLDesc(0)
    except libvirt.libvirtError as exc:
        raise TransferFailed(f"libvirt at {uri}: {exc.get_error_message()}") from exc
    finally:
        conn.close()
    return parse(xml, uri, device, state in _WRITING_STATES)


def _lookup(libvirt: Any, conn: Any, uri: str, uuid: str, instance_name: str) -> Any:
    try:
        return conn.lookupByUUIDString(uuid)
    except libvirt.libvirtError:
        pass
    if instance_name:
        try:
            dom = conn.lookupByName(instance_name)
        except libvirt.libvirtError:
            pass
        else:
            if dom.UUIDString() == uuid:
                return dom
            raise TransferFailed(f"libvirt at {uri}: domain {instance_name} belongs to instance "
                                 f"{dom.UUIDString()}, not {uuid}; check which host runs the server")
    raise TransferFailed(f"libvirt at {uri} has no domain for instance {uuid} ({instance_name or 'no name'}); "
                         f"check that the server runs on this host")


def parse(xml: str, uri: str, device: str, running: bool) -> Domain:
    """The disk of a nova domain's XML (``device``: its target, "" for the first disk)."""
    root = ET.fromstring(xml)
    name = root.findtext("name", "")
    if root.find(f"metadata/{{{NOVA_NAMESPACE}}}instance") is None:
        raise TransferFailed(f"libvirt at {uri}: domain {name} has no nova metadata; it is not a nova instance")
    disks = [d for d in root.iterfind("devices/disk") if d.get("device", "disk") == "disk"]
    chosen = [d for d in disks if not device or _target(d) == device]
    if not chosen:
        targets = ", ".join(_target(d) for d in disks)
        raise TransferFailed(f"libvirt at {uri}: domain {name} has no disk {device or ''} "
                             f"(its disks: {targets or 'none'}); set `device:` in the host-access file")
    disk = chosen[0]
    source = disk.find("source")
    path = source.get("file") if source is not None else None
    if disk.get("type", "file") != "file" or not path:
        raise TransferFailed(f"libvirt at {uri}: the disk of {name} is a {disk.get('type')} disk, not a file; "
                             f"only file-backed disks are copied host to host (use image mode for it)")
    driver = disk.find("driver")
    fmt = driver.get("type", "raw") if driver is not None else "raw"
    backing = disk.find("backingStore/source")
    if backing is not None and backing.get("file"):
        raise TransferFailed(f"libvirt at {uri}: disk {path} of {name} is a {fmt} overlay on {backing.get('file')}, "
                             f"which the destination host lacks; use image mode, or flat disks "
                             f"(nova [libvirt] images_type = flat)")
    return Domain(name=name, disk=path, format=fmt, running=running)


def _target(disk: ET.Element) -> str:
    target = disk.find("target")
    return target.get("dev", "") if target is not None else ""
