"""Servers on the simulated cloud: boot, ports, power, snapshot, delete, injected failures."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import pytest

from opsflow.devcloud import configs, seed
from opsflow.devcloud.layout import Layout
from opsflow.plugins.nova import disks

from .conftest import boot

pytestmark = pytest.mark.functional


def disk_file(layout: Layout, region: str, admin: Any, server: Any) -> Path:
    """Where the simulated hypervisor keeps ``server``'s disk."""
    host = admin.compute.get_server(server.id).compute_host
    return layout.region(region).disk_dir / host / f"{server.id}.disk"


def test_boot_gives_bound_port_and_fixed_ip(devcloud: Layout, region: str, admin: Any, server: Any) -> None:
    """A booted server is ACTIVE on a simulated host with a bound, ACTIVE port and a fixed IP."""
    assert server.status == "ACTIVE"
    host = admin.compute.get_server(server.id).compute_host
    assert host.startswith(devcloud.region(region).host_prefix)
    (port,) = admin.network.ports(device_id=server.id)
    assert port.status == "ACTIVE"
    assert port.binding_vif_type == "other"
    assert port.binding_host_id == host
    assert port.security_group_ids
    fixed = [ip["ip_address"] for ip in port.fixed_ips]
    addresses = [a["addr"] for a in server.addresses[seed.NETWORK_NAME]]
    assert fixed == addresses


def test_stop_start_reboot(demo: Any, server: Any) -> None:
    """Stop makes the server SHUTOFF; start brings it back ACTIVE; a reboot completes successfully."""
    demo.compute.stop_server(server)
    assert demo.compute.wait_for_server(server, status="SHUTOFF", interval=1, wait=60).power_state == 4
    demo.compute.start_server(server)
    assert demo.compute.wait_for_server(server, status="ACTIVE", interval=1, wait=60).power_state == 1
    demo.compute.reboot_server(server, "SOFT")
    deadline = time.monotonic() + 60
    while not reboot_succeeded(demo, server):
        assert time.monotonic() < deadline, "the reboot did not finish within 60 s"
        time.sleep(1)
    assert demo.compute.wait_for_server(server, status="ACTIVE", interval=1, wait=60).power_state == 1


def reboot_succeeded(conn: Any, server: Any) -> bool:
    """True once the server's reboot action has an event that finished with Success."""
    for action in conn.compute.server_actions(server):
        if action.action == "reboot":
            detail = conn.compute.get_server_action(action.request_id, server)
            return any(e.get("result") == "Success" for e in detail.events or [])
    return False


def test_disk_holds_image_bytes_then_its_own_stamp(devcloud: Layout, region: str, admin: Any,
                                                   server: Any) -> None:
    """The disk starts with the image's bytes and carries the instance's stamp after them."""
    image = seed.image_bytes()
    data = disk_file(devcloud, region, admin, server).read_bytes()
    assert data[:len(image)] == image
    offset = disks.stamp_offset(len(image))
    image_id = seed.image_id(admin)
    assert data[offset:offset + disks.STAMP_BYTES] == disks.stamp(image_id, server.id)


def test_snapshot_uploads_disk_bytes(devcloud: Layout, region: str, demo: Any, admin: Any,
                                     server: Any) -> None:
    """A snapshot's bytes in Glance are the disk file's bytes, byte for byte."""
    path = disk_file(devcloud, region, admin, server)
    image = demo.compute.create_server_image(server, name=f"snap-{server.id[:8]}", wait=True,
                                             timeout=120)
    try:
        downloaded = demo.image.download_image(image).content
        assert len(downloaded) == path.stat().st_size
        assert hashlib.sha256(downloaded).hexdigest() == disks.file_sha256(path)
    finally:
        demo.image.delete_image(image, ignore_missing=True)


def test_delete_leaves_no_disk(devcloud: Layout, region: str, demo: Any, admin: Any) -> None:
    """Deleting a server removes its disk file from the simulated host."""
    srv = boot(demo)
    path = disk_file(devcloud, region, admin, srv)
    assert path.exists()
    demo.compute.delete_server(srv)
    demo.compute.wait_for_delete(srv, interval=1, wait=120)
    assert not path.exists()
    assert not path.with_suffix(".json").exists()


def test_injected_boot_failure_ends_in_error(demo: Any) -> None:
    """A server tagged to fail its boot ends in ERROR with the simulator's reason as its fault."""
    srv = boot(demo, metadata={"opsflow-sim:fail": "boot"}, wait=False)
    try:
        srv = demo.compute.wait_for_server(srv, status="ERROR", failures=[], interval=1, wait=120)
        assert srv.status == "ERROR"
        assert "opsflow-sim:fail" in str(srv.fault)
    finally:
        demo.compute.delete_server(srv, ignore_missing=True)
        demo.compute.wait_for_delete(srv, interval=1, wait=120)


def test_resize_moves_the_disk_to_the_new_host(devcloud: Layout, region: str, demo: Any,
                                               admin: Any) -> None:
    """A resize copies the disk to the new host, grows it to the new flavor and, once confirmed,
    leaves nothing on the old host."""
    srv = boot(demo)
    try:
        old_path = disk_file(devcloud, region, admin, srv)
        before = old_path.read_bytes()
        demo.compute.resize_server(srv, demo.compute.find_flavor("m1.small", ignore_missing=False).id)
        demo.compute.wait_for_server(srv, status="VERIFY_RESIZE", interval=1, wait=120)
        new_path = disk_file(devcloud, region, admin, srv)
        assert new_path != old_path
        after = new_path.read_bytes()
        assert len(after) == disks.disk_bytes(4, configs.SimSettings().disk_mib_per_gb)
        assert after[:len(before)] == before
        demo.compute.confirm_server_resize(srv)
        demo.compute.wait_for_server(srv, status="ACTIVE", interval=1, wait=60)
        deadline = time.monotonic() + 30
        while old_path.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not old_path.exists()
    finally:
        demo.compute.delete_server(srv, ignore_missing=True)
        demo.compute.wait_for_delete(srv, interval=1, wait=120)


def test_live_migration_moves_the_running_vm_and_its_disk_at_once(devcloud: Layout, region: str,
                                                                   demo: Any, admin: Any) -> None:
    """After a live migration the VM runs on the new host with the same disk bytes; the old host
    keeps nothing (not even until a periodic cleanup), and the new host operates it."""
    srv = boot(demo)
    try:
        old_host = admin.compute.get_server(srv.id).compute_host
        old_path = disk_file(devcloud, region, admin, srv)
        before = disks.file_sha256(old_path)
        admin.compute.live_migrate_server(srv, block_migration="auto")
        deadline = time.monotonic() + 120
        while admin.compute.get_server(srv.id).compute_host == old_host:
            assert time.monotonic() < deadline, "the server did not move"
            time.sleep(1)
        demo.compute.wait_for_server(srv, status="ACTIVE", interval=1, wait=120)
        new_path = disk_file(devcloud, region, admin, srv)
        assert new_path != old_path and disks.file_sha256(new_path) == before
        assert not old_path.exists() and not old_path.with_suffix(".json").exists()
        demo.compute.stop_server(srv)
        demo.compute.wait_for_server(srv, status="SHUTOFF", interval=1, wait=120)
    finally:
        demo.compute.delete_server(srv, ignore_missing=True)
        demo.compute.wait_for_delete(srv, interval=1, wait=120)


def test_console_log_is_a_boot_log_of_the_requested_length(demo: Any, server: Any) -> None:
    """`openstack console log show --lines 10` gives the last ten lines of a Linux console."""
    whole = demo.compute.get_server_console_output(server)["output"]
    assert "Linux version" in whole and f"{server.name} login:" in whole
    last = demo.compute.get_server_console_output(server, length=10)["output"]
    assert len(last.splitlines()) == 10 and whole.endswith(last)


def test_the_boot_time_port_can_be_detached(demo: Any) -> None:
    """The port a server booted with is known to its hypervisor, so detaching it works."""
    srv = boot(demo)
    try:
        (interface,) = list(demo.compute.server_interfaces(srv))
        demo.compute.delete_server_interface(interface, server=srv)
        deadline = time.monotonic() + 60
        while list(demo.compute.server_interfaces(srv)):
            assert time.monotonic() < deadline, "the boot-time port stayed attached"
            time.sleep(1)
    finally:
        demo.compute.delete_server(srv, ignore_missing=True)
        demo.compute.wait_for_delete(srv, interval=1, wait=120)
