"""Forklift throughput and downtime on the simulated cloud: opsflow's batch against a plain script.

Measured in one run, on the devcloud ``$OPSFLOW_DEVCLOUD_HOME`` / ``$OPSFLOW_DEVCLOUD_PORT_BASE``:

* **opsflow**: ``forklift-batch.yaml`` in image mode (one child run per server, state in SQLite,
  every step recorded and revertible) over N servers at the batch's concurrency (8);
* **plain**: an openstacksdk script making the same cloud calls for the same N servers at the same
  concurrency (create the twin, wait, stop it, stop the source, snapshot, stream the image Glance to
  Glance, rebuild the twin, start it, wait) — no state, no revert, no adoption;
* servers per minute of each and their ratio; orchestration CPU per server (this process's CPU
  time over the batch, divided by N: what opsflow's bookkeeping and the SDK cost, the clouds not
  included); nova-api requests per server of each (counted in both regions' request logs, so
  the polling each side does shows); downtime p50/p99 of each mode: image (the batch), cold and
  warm (a few servers each, warm with 5 % of the blocks dirtied after the pre-copy), the disk
  modes on a cloud whose simulator gives m1.tiny's 1 GB disk ``--disk-mib`` MiB (1024: a real
  1 GiB disk), rebuilt for that phase and back to the usual shape at the end.

``python benchmarks/forklift.py [--servers 200] [--disk-servers 4] [--disk-mib 1024]``; the last line
is the summary.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import os
import resource
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opsflow import clouds, stats
from opsflow.devcloud import bringup, configs, seed
from opsflow.devcloud.layout import Layout
from opsflow.engines.atoms import FailurePoint
from opsflow.engines.runner import Runner
from opsflow.flows import loader
from opsflow.flows.model import OnFailure
from opsflow.flows.resolver import BUILTIN_DIR
from opsflow.forklift import apply, report
from opsflow.forklift.plan import Plan, PlannedServer
from opsflow.plugins.nova import controls
from opsflow.tasks import image as image_actions, polling
from opsflow.tasks.migration import Mode

SOURCE, DESTINATION = "devcloud-source", "devcloud-destination"
CONCURRENCY = 8


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def boot(count: int, prefix: str) -> list[Any]:
    """``count`` running servers named ``prefix-N`` at the source."""
    conn = clouds.connect(SOURCE)
    flavor = conn.compute.find_flavor("m1.tiny", ignore_missing=False).id
    network = conn.network.find_network(seed.NETWORK_NAME, ignore_missing=False).id
    made = [conn.compute.create_server(name=f"{prefix}-{i:03d}", image_id=seed.image_id(conn), flavor_id=flavor,
                                       networks=[{"uuid": network}]) for i in range(count)]
    return [conn.compute.wait_for_server(s, interval=1, wait=1800) for s in made]


def clean(prefix: str) -> None:
    """Delete every server named ``prefix-*`` in both regions and the images migrations made."""
    for cloud in (SOURCE, DESTINATION):
        conn = clouds.connect(cloud)
        doomed = list(conn.compute.servers(name=f"^{prefix}-"))
        for server in doomed:
            conn.compute.delete_server(server)
        for server in doomed:
            conn.compute.wait_for_delete(server, interval=1, wait=1800)
        for img in list(conn.image.images(owner=conn.current_project_id)):  # deleting while paging loses the marker
            if img.name.startswith(("opsflow-", "plain-")):
                conn.image.delete_image(img.id, ignore_missing=True)


@dataclasses.dataclass
class Side:
    """One side's figures."""

    servers: int
    seconds: float
    cpu: float
    downtimes: list[float]
    #: Requests both regions' nova-api logged while this side ran (polling is most of them).
    nova_requests: int = 0

    @property
    def per_minute(self) -> float:
        return self.servers / self.seconds * 60

    @property
    def cpu_per_server(self) -> float:
        return self.cpu / self.servers

    @property
    def nova_requests_per_server(self) -> float:
        return self.nova_requests / self.servers


def nova_requests(layout: Layout) -> int:
    """Requests both regions' nova-api have logged so far: read on the servers' side, so counting
    costs the measured process nothing."""
    total = 0
    for region in layout.regions():
        with open(layout.logs / f"{region.name}-nova-api.log", "rb") as log:
            total += sum(line.count(b"nova.api.openstack.requestlog") for line in log)
    return total


def counted(layout: Layout, run: Callable[[], Side]) -> Side:
    """``run``'s side with the nova-api requests it made."""
    before = nova_requests(layout)
    side = run()
    return dataclasses.replace(side, nova_requests=nova_requests(layout) - before)


def run_opsflow(servers: list[Any], state: Path, mode: Mode = Mode.IMAGE) -> Side:
    """The batch flow over ``servers``."""
    plan = Plan(SOURCE, DESTINATION, mode, "stop", {}, tuple(_planned(s) for s in servers))
    began, cpu = time.monotonic(), _cpu()
    record = apply.run(plan, f"sqlite:///{state}")
    seconds, used = time.monotonic() - began, _cpu() - cpu
    with Runner(f"sqlite:///{state}") as runner:
        rows = report.of_run(runner, record.run_id)
    moved = [r for r in rows if r.outcome is report.Outcome.MOVED]
    return Side(len(moved), seconds, used, [r.downtime for r in moved if r.downtime is not None])


def _planned(server: Any) -> PlannedServer:
    return PlannedServer(server.id, server.name, server.project_id, "", "m1.tiny", seed.IMAGE_NAME,
                         (seed.NETWORK_NAME,), ("default",), 1 << 30)


def _plain_one(server: Any) -> float:
    """Move one server with bare openstacksdk calls; returns its downtime."""
    src, dst = clouds.connect(SOURCE), clouds.connect(DESTINATION)
    flavor = dst.compute.find_flavor("m1.tiny", ignore_missing=False).id
    network = dst.network.find_network(seed.NETWORK_NAME, ignore_missing=False).id
    twin = dst.compute.create_server(name=server.name, image_id=seed.image_id(dst), flavor_id=flavor,
                                     networks=[{"uuid": network}])
    polling.wait_status(dst, twin.id, "ACTIVE")
    dst.compute.stop_server(twin)
    polling.wait_status(dst, twin.id, "SHUTOFF")
    src.compute.stop_server(server)
    stopped = time.time()
    polling.wait_status(src, server.id, "SHUTOFF")
    made: Any = src.compute.create_server_image(server, f"plain-{uuid.uuid4().hex[:8]}")
    snapshot = str(getattr(made, "id", made))
    polling.wait_image(src, snapshot)
    copy = image_actions.stream_image(src, snapshot, dst, f"plain-{server.name}")
    dst.compute.rebuild_server(twin, image=copy["id"])
    polling.wait_rebuilt(dst, twin.id, copy["id"], "SHUTOFF")
    dst.compute.start_server(twin)
    polling.wait_status(dst, twin.id, "ACTIVE")
    return time.time() - stopped


def run_plain(servers: list[Any]) -> Side:
    """The same calls from a thread pool of the same size."""
    began, cpu = time.monotonic(), _cpu()
    with concurrent.futures.ThreadPoolExecutor(CONCURRENCY) as pool:
        downtimes = list(pool.map(_plain_one, servers))
    return Side(len(servers), time.monotonic() - began, _cpu() - cpu, downtimes)


def run_disk_mode(mode: Mode, servers: list[Any], state: Path, layout: Layout) -> list[float]:
    """Downtimes of moving ``servers`` one at a time in cold or warm mode (warm: 5 % dirtied after the pre-copy)."""
    definition = loader.load_file(f"{BUILTIN_DIR}/forklift.yaml")
    paused = dataclasses.replace(definition, on_failure=OnFailure.PAUSE)
    admin = clouds.connect("devcloud-source-admin")
    downtimes = []
    with Runner(f"sqlite:///{state}") as runner:
        for server in servers:
            given = {"server": server.id, "source_cloud": SOURCE, "destination_cloud": DESTINATION, "mode": mode.value}
            if mode is Mode.WARM:
                record = runner.run(paused, given, failure_points=(FailurePoint("stop_source", "before"),))
                host = admin.compute.get_server(server.id).compute_host
                controls.dirty_blocks(layout.region("source").disk_dir, host, server.id, 0.05)
                record = runner.resume(record.run_id)
            else:
                record = runner.run(definition, given)
            (row,) = report.of_run(runner, record.run_id)
            if row.downtime is not None:
                downtimes.append(row.downtime)
            else:  # not moved: say why, so a missing downtime is never silent
                print(f"{mode.value}: {server.name} {row.outcome.value}: {row.error}", flush=True)
    return downtimes


def _booted(count: int, prefix: str) -> list[Any]:
    began = time.monotonic()
    servers = boot(count, prefix)
    print(f"booted {count} servers {prefix}-* in {time.monotonic() - began:.0f} s", flush=True)
    return servers


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _p(values: list[float], share: float) -> float:
    return stats.percentile(sorted(values), share) or float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=200,
                        help="servers per side (the issue asks >= 200); 0 measures the disk modes alone")
    parser.add_argument("--disk-servers", type=int, default=4, help="servers moved in each of cold and warm")
    parser.add_argument("--disk-mib", type=int, default=1024,
                        help="MiB of disk per flavor GB in the cold and warm phase (m1.tiny has 1 GB)")
    args = parser.parse_args()
    layout = Layout.default()
    usual = configs.SimSettings()
    bringup.up(layout, usual)
    os.environ["OS_CLIENT_CONFIG_FILE"] = str(layout.clouds_yaml)
    os.environ.setdefault("OPSFLOW_HOST_ACCESS", str(layout.host_access))
    prefix = f"bench-{uuid.uuid4().hex[:4]}"
    with tempfile.TemporaryDirectory() as tmp:
        try:
            ours = plain = None
            if args.servers:  # --servers 0: the disk modes alone
                # one side's servers at a time: two hypervisors per region hold ~256 tiny servers, not 2 x 200
                booted = _booted(args.servers, f"{prefix}-o")
                ours = counted(layout, lambda: run_opsflow(booted, Path(tmp) / "ours.db"))
                print(f"opsflow: {ours.servers} servers in {ours.seconds:.0f} s, {ours.per_minute:.1f}/min, "
                      f"CPU {ours.cpu_per_server:.2f} s/server, {ours.nova_requests_per_server:.1f} nova "
                      f"requests/server (load {_load()})", flush=True)
                clean(f"{prefix}-o")
                booted = _booted(args.servers, f"{prefix}-p")
                plain = counted(layout, lambda: run_plain(booted))
                print(f"plain:   {plain.servers} servers in {plain.seconds:.0f} s, {plain.per_minute:.1f}/min, "
                      f"CPU {plain.cpu_per_server:.2f} s/server, {plain.nova_requests_per_server:.1f} nova "
                      f"requests/server (load {_load()})", flush=True)
                clean(f"{prefix}-p")
            bringup.up(layout, dataclasses.replace(usual, disk_mib_per_gb=args.disk_mib))
            print(f"disk modes on {args.disk_mib} MiB disks (load {_load()})", flush=True)
            cold = run_disk_mode(Mode.COLD, _booted(args.disk_servers, f"{prefix}-c"), Path(tmp) / "cold.db", layout)
            print(f"cold:    downtimes {', '.join(f'{d:.1f}' for d in cold)} s (load {_load()})", flush=True)
            warm = run_disk_mode(Mode.WARM, _booted(args.disk_servers, f"{prefix}-w"), Path(tmp) / "warm.db", layout)
            print(f"warm:    downtimes {', '.join(f'{d:.1f}' for d in warm)} s (load {_load()})", flush=True)
        finally:
            clean(prefix)
            bringup.up(layout, usual)
    summary = [f"servers: {args.servers}"]
    if ours is not None and plain is not None:
        summary += [f"opsflow_per_min: {ours.per_minute:.1f}", f"plain_per_min: {plain.per_minute:.1f}",
                    f"ratio: {ours.per_minute / plain.per_minute:.2f}", f"cpu_per_server_s: {ours.cpu_per_server:.2f}",
                    f"plain_cpu_per_server_s: {plain.cpu_per_server:.2f}",
                    f"nova_requests_per_server: {ours.nova_requests_per_server:.1f}",
                    f"plain_nova_requests_per_server: {plain.nova_requests_per_server:.1f}",
                    f"downtime_image_p50_s: {_p(ours.downtimes, 0.5):.1f}",
                    f"downtime_image_p99_s: {_p(ours.downtimes, 0.99):.1f}"]
    summary += [f"cold_moved: {len(cold)}/{args.disk_servers}", f"warm_moved: {len(warm)}/{args.disk_servers}",
                f"downtime_cold_p50_s: {_p(cold, 0.5):.1f}", f"downtime_cold_p99_s: {_p(cold, 0.99):.1f}",
                f"downtime_warm_p50_s: {_p(warm, 0.5):.1f}", f"downtime_warm_p99_s: {_p(warm, 0.99):.1f}",
                f"disk_mib: {args.disk_mib}", f"load: {os.getloadavg()[0]:.1f}"]
    print(", ".join(summary))


if __name__ == "__main__":
    main()
