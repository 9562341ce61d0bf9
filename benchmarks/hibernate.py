"""How fast hibernate and restore move a disk through Swift, against python-swiftclient doing it directly.

Measured in one run on the simulated cloud (``opsflow devcloud up``), with the same bytes and the same
segment size on both sides:

* **into Swift**: the hibernate flow's ``store`` step (Glance download streamed into an SLO, segments
  uploaded in parallel, SHA-256 on the way) against ``SwiftService.upload`` of the same disk file as
  an SLO with as many segment threads;
* **back**: the restore flow's ``image`` step (SLO streamed from Swift into a new Glance image,
  SHA-256 checked) against ``SwiftService.download`` of the same object;
* the wall time of the whole hibernate (stop, snapshot, store, manifest, read-back verify, delete)
  and restore (load, boot, wait, on-host disk check, clean-up) of one server.

The disk is ``--size-gib`` (default 1 GiB): a flavor of ``size × 1024 / disk_mib_per_gb`` GB, so the
simulator's disk of that server has that many bytes — the disk scale raised for this one server
without rebuilding the cloud. Run: ``python benchmarks/hibernate.py [--size-gib 1] [--segment-mib 64]
[--concurrency 4]``. The last line is the summary.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import openstack
from swiftclient.service import SwiftService, SwiftUploadObject

from opsflow.devcloud import bringup, clouds, configs, seed
from opsflow.devcloud.layout import Layout
from opsflow.engines.records import RunRecord, RunState
from opsflow.engines.runner import Runner
from opsflow.flows import loader, resolver
from opsflow.hibernate import listing
from opsflow.hibernate.layout import Layout as StoreLayout
from opsflow.hibernate.swift import Swift

MIB = 1 << 20


def run(flow: str, state: Path, inputs: dict[str, Any]) -> tuple[RunRecord, float]:
    """Run a built-in flow; (record, wall seconds)."""
    definition = loader.load_file(os.path.join(resolver.BUILTIN_DIR, f"{flow}.yaml"))
    began = time.monotonic()
    with Runner(f"sqlite:///{state}") as runner:
        record = runner.run(definition, inputs)
    if record.state is not RunState.SUCCEEDED:
        raise SystemExit(f"{flow} {record.state.value}: {[t.error for t in record.tasks if t.error]}")
    return record, time.monotonic() - began


def step_seconds(record: RunRecord, path: str) -> float:
    """How long one task of a run took."""
    return float(next(t.duration for t in record.tasks if t.path == path) or 0.0)


def swift_service(conn: Any, segment_size: int, threads: int) -> SwiftService:
    """python-swiftclient's SwiftService on the same token and endpoint the flows use."""
    swift = Swift(conn)
    url, token = swift.client().get_auth()
    return SwiftService(options={"os_storage_url": url, "os_auth_token": token, "segment_size": segment_size,
                                 "use_slo": True, "segment_threads": threads, "object_dd_threads": threads,
                                 "object_uu_threads": threads})


def direct(conn: Any, disk: Path, segment_size: int, threads: int) -> tuple[float, float]:
    """(upload s, download s) of ``disk`` as an SLO through SwiftService, in a container of its own."""
    container = f"bench-direct-{uuid.uuid4().hex[:8]}"
    with swift_service(conn, segment_size, threads) as service:
        began = time.monotonic()
        results = list(service.upload(container, [SwiftUploadObject(str(disk), object_name="disk")]))
        upload = time.monotonic() - began
        failed = [r.get("error") for r in results if not r["success"]]
        if failed:
            raise SystemExit(f"direct upload failed: {failed}")
        with tempfile.TemporaryDirectory() as tmp:
            began = time.monotonic()
            got = list(service.download(container, ["disk"], options={"out_file": os.path.join(tmp, "disk")}))
            download = time.monotonic() - began
        if not all(r["success"] for r in got):
            raise SystemExit(f"direct download failed: {got}")
        list(service.delete(container))
        list(service.delete(container + "_segments"))
    return upload, download


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gib", type=float, default=1.0)
    parser.add_argument("--segment-mib", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    layout = Layout.default()
    sim = configs.SimSettings()
    bringup.up(layout, sim)
    os.environ["OS_CLIENT_CONFIG_FILE"] = str(layout.clouds_yaml)
    demo_cloud, admin_cloud = clouds.cloud_names("source")
    admin, demo = openstack.connect(cloud=admin_cloud), openstack.connect(cloud=demo_cloud)
    root_gb = max(1, round(args.size_gib * 1024 / sim.disk_mib_per_gb))
    flavor_name = f"bench.hib.{root_gb}"
    flavor = admin.compute.find_flavor(flavor_name) or admin.compute.create_flavor(
        name=flavor_name, vcpus=1, ram=256, disk=root_gb, is_public=True)
    server = demo.compute.create_server(
        name=f"bench-hib-{uuid.uuid4().hex[:6]}", image_id=seed.image_id(demo), flavor_id=flavor.id,
        networks=[{"uuid": demo.network.find_network(seed.NETWORK_NAME, ignore_missing=False).id}])
    server = demo.compute.wait_for_server(server, interval=1, wait=600)
    host = admin.compute.get_server(server.id).compute_host
    disk = layout.region("source").disk_dir / host / f"{server.id}.disk"
    size = disk.stat().st_size
    segment = args.segment_mib * MIB
    store_layout = {"container": f"bench-hib-{uuid.uuid4().hex[:8]}"}
    try:
        up_s, down_s = direct(demo, disk, segment, args.concurrency)
        with tempfile.TemporaryDirectory() as tmp:
            state = Path(tmp) / "state.db"
            hib, hib_wall = run("hibernate", state, {"cloud": admin_cloud, "server": server.id, "layout": store_layout,
                                                     "segment_size": segment, "concurrency": args.concurrency})
            res, res_wall = run("restore", state, {"cloud": admin_cloud, "name": server.name,
                                                   "project": server.project_id, "layout": store_layout,
                                                   "access": str(layout.host_access)})
        store_s, load_s = step_seconds(hib, "store"), step_seconds(res, "image")
    finally:
        for found in admin.compute.servers(all_projects=True, name=f"^{server.name}$"):
            admin.compute.delete_server(found)
        listing.delete(Swift(demo), StoreLayout(**store_layout), server.name)
    mbs = lambda seconds: size / seconds / 1e6  # noqa: E731
    print(f"disk {size / MIB:.0f} MiB, segments {args.segment_mib} MiB x {args.concurrency} in parallel")
    print(f"into Swift: flow store step {mbs(store_s):.1f} MB/s ({store_s:.1f} s), "
          f"swiftclient upload {mbs(up_s):.1f} MB/s ({up_s:.1f} s), ratio {up_s / store_s:.2f}")
    print(f"back:       flow image step {mbs(load_s):.1f} MB/s ({load_s:.1f} s), "
          f"swiftclient download {mbs(down_s):.1f} MB/s ({down_s:.1f} s), ratio {down_s / load_s:.2f}")
    print(f"hibernate wall {hib_wall:.1f} s, restore wall {res_wall:.1f} s")
    print(f"disk_mib: {size / MIB:.0f}, store_mb_s: {mbs(store_s):.1f}, upload_mb_s: {mbs(up_s):.1f}, "
          f"into_ratio: {up_s / store_s:.2f}, load_mb_s: {mbs(load_s):.1f}, download_mb_s: {mbs(down_s):.1f}, "
          f"back_ratio: {down_s / load_s:.2f}, hibernate_s: {hib_wall:.1f}, restore_s: {res_wall:.1f}")


if __name__ == "__main__":
    main()
