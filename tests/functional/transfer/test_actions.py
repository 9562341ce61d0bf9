"""transfer.copy_disk and transfer.verify_disk on servers of the simulated cloud, cold and warm."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openstack
import pytest

from opsflow.devcloud.layout import Layout
from opsflow.errors import ChecksumMismatch, TransferFailed
from opsflow.plugins.nova import controls
from opsflow.tasks.base import RunContext
from opsflow.tasks.transfer import CopyDisk, VerifyDisk
from opsflow.transfer import disk_checksum

from ..devcloud.conftest import boot

pytestmark = pytest.mark.functional

SOURCE, DESTINATION = "devcloud-source", "devcloud-destination"


@pytest.fixture(scope="module")
def conns(devcloud: Layout) -> Iterator[dict[str, Any]]:
    """Demo connections to both regions."""
    out = {name: openstack.connect(cloud=name) for name in (SOURCE, DESTINATION)}
    yield out
    for conn in out.values():
        conn.close()


@pytest.fixture(scope="module")
def pair(conns: dict[str, Any]) -> Iterator[tuple[Any, Any]]:
    """A running source server and a stopped destination server, shared by the scenarios below in
    file order (warm, which stops the source, then cold), deleted afterwards: boots are the slow part."""
    source, destination = boot(conns[SOURCE], wait=False), boot(conns[DESTINATION], wait=False)
    source = conns[SOURCE].compute.wait_for_server(source, interval=1, wait=180)
    destination = conns[DESTINATION].compute.wait_for_server(destination, interval=1, wait=180)
    stop(conns[DESTINATION], destination)
    yield source, destination
    for cloud, server in ((SOURCE, source), (DESTINATION, destination)):
        conns[cloud].compute.delete_server(server, ignore_missing=True)


def stop(conn: Any, server: Any) -> None:
    """Stop a server (unless it is stopped already) and wait until it is SHUTOFF."""
    if conn.compute.get_server(server.id).status == "SHUTOFF":
        return
    conn.compute.stop_server(server)
    conn.compute.wait_for_server(server, status="SHUTOFF", interval=1, wait=60)


def action(cls: type) -> Any:
    """An action instance with a run context, as the engine would run it."""
    instance = cls(name="disk")
    instance.context = RunContext(run_id="test", task_path="disk")
    return instance


def args(source: Any, destination: Any, access: Path) -> dict[str, str]:
    """The actions' server arguments."""
    return {"source_cloud": SOURCE, "source_server": source.id, "destination_cloud": DESTINATION,
            "destination_server": destination.id, "access": str(access)}


def disk_path(devcloud: Layout, region: str, server: Any) -> Path:
    """The simulated disk file of a server."""
    admin = openstack.connect(cloud=f"devcloud-{region}-admin")
    host = str(admin.compute.get_server(server.id).compute_host)
    admin.close()
    return devcloud.region(region).disk_dir / host / f"{server.id}.disk"


def test_warm_copy_then_delta_sends_only_dirtied_blocks(devcloud: Layout, conns: dict[str, Any],
                                                         pair: tuple[Any, Any]) -> None:
    """Disks of two servers differ at first; a pre-copy while the source runs, writes by its guest, a
    stop and a delta move only the dirty blocks, and verify then agrees."""
    source, destination = pair
    kwargs = args(source, destination, devcloud.host_access)
    with pytest.raises(ChecksumMismatch, match="disks differ"):
        action(VerifyDisk).execute(**kwargs)
    precopy = action(CopyDisk).execute(**kwargs)
    assert precopy["source_running"] is True
    src = disk_path(devcloud, "source", source)
    dirtied = controls.dirty_blocks(src.parent.parent, src.parent.name, source.id, 0.25, seed=7)
    with pytest.raises(TransferFailed, match="still running"):
        action(CopyDisk).execute(**kwargs, delta=True)
    stop(conns[SOURCE], source)
    delta = action(CopyDisk).execute(**kwargs, delta=True)
    assert delta["blocks_sent"] == dirtied
    assert delta["bytes_sent"] <= dirtied * (1 << 20) + 4096
    dst = disk_path(devcloud, "destination", destination)
    assert dst.read_bytes() == src.read_bytes()
    assert action(VerifyDisk).execute(**kwargs)["sha256"] == delta["sha256"]


def test_cold_copy_verify_restart_and_revert(devcloud: Layout, conns: dict[str, Any],
                                             pair: tuple[Any, Any]) -> None:
    """With both stopped, copy_disk makes the destination's own disk byte-identical and verify agrees;
    the started destination is then refused as a target; revert is safe twice and after deletion."""
    source, destination = pair
    stop(conns[SOURCE], source)
    kwargs = args(source, destination, devcloud.host_access)
    done = action(CopyDisk).execute(**kwargs)
    src = disk_path(devcloud, "source", source)
    dst = disk_path(devcloud, "destination", destination)
    assert dst.read_bytes() == src.read_bytes()
    assert done["bytes_total"] == src.stat().st_size
    assert done["bytes_sent"] < done["bytes_total"] // 2  # the hole after the image is not sent
    assert action(VerifyDisk).execute(**kwargs) == {"sha256": done["sha256"], "bytes_total": done["bytes_total"]}
    assert disk_checksum(DESTINATION, destination.id, str(devcloud.host_access)).sha256 == done["sha256"]

    conns[DESTINATION].compute.start_server(destination)
    conns[DESTINATION].compute.wait_for_server(destination, status="ACTIVE", interval=1, wait=60)
    with pytest.raises(TransferFailed, match=f"destination server {destination.id} is running"):
        action(CopyDisk).execute(**kwargs)

    part = Path(str(dst) + ".opsflow-part-1")
    part.write_bytes(b"half")
    copy = action(CopyDisk)
    copy.revert(**kwargs)
    copy.revert(**kwargs)
    assert not part.exists() and dst.read_bytes() == src.read_bytes()
    conns[DESTINATION].compute.delete_server(destination)
    conns[DESTINATION].compute.wait_for_delete(destination, interval=1, wait=60)
    copy.revert(**kwargs)
