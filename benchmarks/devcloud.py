"""How fast the simulated cloud comes up, how fast it boots servers, and what it costs in memory.

Measured in one run, against the real services `opsflow devcloud up` starts:

* bring-up from nothing (state, databases and vhosts wiped; the services' virtualenv is cached)
  against a second, warm ``up`` of the running cloud;
* servers booted per minute in region ``source`` spread over ``--computes`` simulated
  hypervisors (each its own nova-compute service in one process), from the first create call to
  the last server ACTIVE;
* resident memory of the whole control plane (every API, conductor/scheduler, Keystone) and of the
  process that runs the simulated hypervisors, at the default 2 and at ``--computes`` hosts per
  region, giving the marginal cost of one simulated hypervisor against one hypervisor process.

Run: ``python benchmarks/devcloud.py [--computes 50] [--servers 50] [--warm-only]``. It leaves the
cloud up with the default 2 hypervisors per region, as the tests expect.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openstack

from opsflow.devcloud import bringup, clouds, configs, seed
from opsflow.devcloud.layout import Layout


def group_rss_mb(pid: int) -> float:
    """Resident memory (MB) of every process in ``pid``'s process group (a gunicorn master and its worker)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[2]) != pid:  # field 5: process group
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1024


def memory(layout: Layout, sim: configs.SimSettings) -> tuple[float, float]:
    """(control plane MB, simulated-hypervisor processes MB), summed over both regions."""
    control = computes = 0.0
    for row in bringup.status(layout, sim):
        if row.pid is None:
            continue
        if row.name.endswith("-compute"):
            computes += group_rss_mb(row.pid)
        else:
            control += group_rss_mb(row.pid)
    return control, computes


#: Seconds a boot measurement waits for its servers; those not ACTIVE or ERROR by then are reported late.
BOOT_WINDOW = 900.0


def boot_many(conn: Any, count: int) -> tuple[float, int, int, int]:
    """Boot ``count`` servers at once; return (seconds until all were ACTIVE or ERROR, or the
    :data:`BOOT_WINDOW` if some were not, hosts used, servers in ERROR, servers still booting then).

    A cloud too loaded to boot them all in the window is a result, not a crash: its rate counts
    the servers that did come up in it."""
    admin = openstack.connect(cloud=clouds.cloud_names("source")[1])
    image = seed.image_id(conn)
    flavor = conn.compute.find_flavor("m1.tiny", ignore_missing=False).id
    network = conn.network.find_network(seed.NETWORK_NAME, ignore_missing=False).id
    tag = uuid.uuid4().hex[:6]
    started = time.monotonic()
    # creates go out 8 at a time, as several users would send them; the cloud, not one client, is measured
    with ThreadPoolExecutor(max_workers=8) as pool:
        servers = list(pool.map(lambda i: conn.compute.create_server(
            name=f"bench-{tag}-{i}", image_id=image, flavor_id=flavor, networks=[{"uuid": network}]),
            range(count)))
    pending = {s.id for s in servers}
    errors = 0
    while pending:
        time.sleep(1)
        for srv in conn.compute.servers(name=f"bench-{tag}-"):
            if srv.id in pending and srv.status in ("ACTIVE", "ERROR"):
                pending.discard(srv.id)
                errors += srv.status == "ERROR"
        if time.monotonic() - started > BOOT_WINDOW:
            break
    elapsed = time.monotonic() - started
    hosts = {admin.compute.get_server(s.id).compute_host for s in servers}
    for srv in servers:
        conn.compute.delete_server(srv, ignore_missing=True)
    for srv in servers:
        conn.compute.wait_for_delete(srv, interval=2, wait=300)
    admin.close()
    return elapsed, len(hosts), errors, len(pending)


def forget_extra_hosts(layout: Layout, keep: int) -> None:
    """Delete the compute services (and their providers) of hosts beyond the first ``keep``."""
    for region in layout.regions():
        admin = seed.admin_connection(layout, region.name)
        wanted = {f"{region.host_prefix}{i:03d}" for i in range(1, keep + 1)}
        for svc in admin.compute.services(binary="nova-compute"):
            if svc.host not in wanted:
                admin.compute.delete_service(svc)
        admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--computes", type=int, default=50, help="simulated hypervisors per region")
    parser.add_argument("--servers", type=int, default=50, help="servers to boot in region source")
    parser.add_argument("--warm-only", action="store_true", help="skip the bring-up from nothing")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    layout = Layout.default()
    base = configs.SimSettings()
    os.environ["OS_CLIENT_CONFIG_FILE"] = str(layout.clouds_yaml)

    cold = float("nan")
    if not args.warm_only:
        bringup.down(layout)
        t = time.monotonic()
        bringup.up(layout, base)
        cold = time.monotonic() - t
    else:
        bringup.up(layout, base)
    t = time.monotonic()
    bringup.up(layout, base)
    warm = time.monotonic() - t
    print(f"bring-up from nothing: {cold:.1f} s; warm (already up): {warm:.2f} s; "
          f"ratio {cold / warm:.0f}x")

    control_mb, compute_small = memory(layout, base)
    print(f"control plane RSS (Keystone + 2 regions): {control_mb:.0f} MB; hypervisor processes at "
          f"{base.computes}/region: {compute_small:.0f} MB")

    scaled = configs.SimSettings(computes=args.computes)
    t = time.monotonic()
    bringup.up(layout, scaled)
    scale_s = time.monotonic() - t
    _, compute_big = memory(layout, scaled)
    per_hv = (compute_big - compute_small) / (2 * (args.computes - base.computes))
    per_process = compute_small / 2
    print(f"{args.computes} simulated hypervisors per region up in {scale_s:.1f} s; their processes: "
          f"{compute_big:.0f} MB; marginal {per_hv:.2f} MB per hypervisor vs {per_process:.0f} MB for "
          f"one hypervisor process (ratio {per_process / per_hv:.0f}x)")

    demo = openstack.connect(cloud=clouds.cloud_names("source")[0])
    elapsed, hosts, errors, late = boot_many(demo, args.servers)
    rate = (args.servers - late) / (elapsed / 60)
    print(f"booted {args.servers - late} of {args.servers} servers in {elapsed:.1f} s over {hosts} of "
          f"{args.computes} hypervisors ({errors} in ERROR): {rate:.0f} servers/min")
    demo.close()

    bringup.up(layout, base)
    forget_extra_hosts(layout, base.computes)
    print(f"bringup_cold_s: {cold:.1f}, bringup_warm_s: {warm:.2f}, boots_per_min: {rate:.0f}, "
          f"hypervisors: {args.computes}, hosts_used: {hosts}, control_plane_rss_mb: {control_mb:.0f}, "
          f"per_hypervisor_rss_mb: {per_hv:.2f}, hypervisor_process_rss_mb: {per_process:.0f}")


if __name__ == "__main__":
    main()
