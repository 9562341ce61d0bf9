"""The simulated cloud at scale: how many hypervisors register and report up, what each costs, boot rate.

Measured against the real services ``opsflow devcloud up`` starts, on the cloud of
``$OPSFLOW_DEVCLOUD_HOME`` / ``$OPSFLOW_DEVCLOUD_PORT_BASE`` (never run it on CI's base 19000):

* for each size N of ``--sizes`` (region ``source``; ``destination`` keeps ``--small`` hosts so
  the one region gets the machine): the time ``devcloud up --computes N`` takes, and how many of
  the N compute services nova then lists as ``up`` and enabled;
* memory per simulated hypervisor, including its share of the broker: the growth of the compute
  process's RSS plus the cloud's own RabbitMQ's RSS from ``--small`` to N hosts, divided by the
  hosts added;
* boots per minute at each N: ``--servers`` servers created 8 at a time, first call to last ACTIVE
  (those still booting after 15 minutes are left out of the rate, and said);
* heartbeats kept to ``--heartbeats`` per second per region, as an operator tunes nova for a large
  cell: ``report_interval`` grows with N (10 s up to 400 hosts at 40/s, 25 s at 1000) and
  ``service_down_time`` is three intervals; ``--conductors`` nova-conductor processes per region
  (one interpreter is at most one core; at 1000 hosts one conductor fell behind their heartbeats);
* the broker's connections and queues at each N (``rabbitmqctl``), and the load average beside
  every figure (the machine is shared).

Run: ``python benchmarks/simulator.py [--sizes 100,1000] [--servers 30] [--small 2] [--conductors 2]
[--heartbeats 40]``. It ends
with the cloud back at ``--small`` hosts per region (``--down`` stops it instead). Last line: the
one-line summary.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import time
from pathlib import Path

import openstack

sys.path.insert(0, str(Path(__file__).resolve().parent))
from devcloud import boot_many, forget_extra_hosts, group_rss_mb  # noqa: E402  (the sibling benchmark)

from opsflow.devcloud import bringup, broker, clouds, configs, procs, seed  # noqa: E402
from opsflow.devcloud.layout import Layout  # noqa: E402


def load() -> str:
    """The 1-minute load average, as printed beside each figure."""
    return f"{os.getloadavg()[0]:.1f}"


def rss(layout: Layout, name: str) -> float:
    """RSS (MB) of the cloud's process ``name`` and its process group."""
    pid = procs.alive_pid(layout.run, name)
    return group_rss_mb(pid) if pid else 0.0


def up_in_nova(layout: Layout, region: str) -> int:
    """Compute services of ``region``'s simulated hypervisors that nova lists as up and enabled."""
    conn = seed.admin_connection(layout, region)
    try:
        prefix = layout.region(region).host_prefix
        return sum(1 for s in conn.compute.services(binary="nova-compute")
                   if s.host.startswith(prefix) and s.state == "up" and s.status == "enabled")
    finally:
        conn.close()


def broker_counts(layout: Layout) -> tuple[int, int]:
    """(connections, queues) on the cloud's own broker."""
    conns = len(broker.ctl(layout, "list_connections", "name", "--no-table-headers").splitlines())
    return conns, len(broker.list_queues(layout))


def shaped(hosts: int, small: int, conductors: int, heartbeats: float) -> configs.SimSettings:
    """The cloud for ``hosts`` in source: heartbeats held to ``heartbeats`` per second, ``conductors``."""
    interval = max(configs.SimSettings.report_interval, math.ceil(hosts / heartbeats))
    return configs.SimSettings(computes=hosts, destination_computes=small, conductors=conductors,
                               report_interval=interval,
                               service_down_time=max(configs.SimSettings.service_down_time, 3 * interval))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000", help="hypervisors in region source, comma-separated")
    parser.add_argument("--servers", type=int, default=30, help="servers booted at each size")
    parser.add_argument("--small", type=int, default=2, help="hypervisors in the baseline and in destination")
    parser.add_argument("--down", action="store_true", help="stop the cloud at the end")
    parser.add_argument("--budget", type=float, default=3600, help="seconds; no new size starts after them")
    parser.add_argument("--conductors", type=int, default=2, help="nova-conductor processes per region")
    parser.add_argument("--heartbeats", type=float, default=40.0,
                        help="compute heartbeats per second per region that report_interval is set for")
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    layout = Layout.default()
    if layout.port_base == 19000:
        parser.error("port base 19000 is CI's: set OPSFLOW_DEVCLOUD_PORT_BASE and OPSFLOW_DEVCLOUD_HOME")
    os.environ["OS_CLIENT_CONFIG_FILE"] = str(layout.clouds_yaml)

    started = time.monotonic()
    base = shaped(args.small, args.small, args.conductors, args.heartbeats)
    bringup.up(layout, base)
    compute0, broker0 = rss(layout, "source-compute"), rss(layout, broker.NAME)
    print(f"baseline {args.small} hosts/region: source-compute {compute0:.0f} MB, broker {broker0:.0f} MB "
          f"(load {load()})", flush=True)

    largest = 0
    per_hv: dict[int, float] = {}
    rates: dict[int, float] = {}
    for n in sizes:
        if time.monotonic() - started > args.budget:
            print(f"N={n}: skipped, the {args.budget:.0f} s budget is spent (load {load()})", flush=True)
            continue
        sim = shaped(n, args.small, args.conductors, args.heartbeats)
        print(f"N={n}: report_interval {sim.report_interval} s, service_down_time {sim.service_down_time} s, "
              f"{sim.conductors} conductor(s)", flush=True)
        t = time.monotonic()
        try:
            bringup.up(layout, sim)
            up_s = time.monotonic() - t
            said = "up"
        except Exception as exc:  # noqa: BLE001 -- a size that breaks is a result, not a crash
            up_s = time.monotonic() - t
            said = f"FAILED: {exc}"
        registered = up_in_nova(layout, "source")
        largest = max(largest, registered)
        compute_mb, broker_mb = rss(layout, "source-compute"), rss(layout, broker.NAME)
        per_hv[n] = ((compute_mb - compute0) + (broker_mb - broker0)) / max(1, n - args.small)
        conns, queues = broker_counts(layout)
        print(f"N={n}: {said} in {up_s:.0f} s; {registered}/{n} up in nova; source-compute {compute_mb:.0f} MB, "
              f"broker {broker_mb:.0f} MB ({conns} connections, {queues} queues): "
              f"{per_hv[n]:.2f} MB per hypervisor incl. broker (load {load()})", flush=True)
        if registered < n:
            continue
        demo = openstack.connect(cloud=clouds.cloud_names("source")[0])
        try:
            elapsed, hosts, errors, late = boot_many(demo, args.servers)
        finally:
            demo.close()
        rates[n] = (args.servers - late) / (elapsed / 60)
        print(f"N={n}: booted {args.servers - late} of {args.servers} in {elapsed:.1f} s on {hosts} hosts "
              f"({errors} ERROR): {rates[n]:.1f} boots/min (load {load()})", flush=True)

    if args.down:
        bringup.down(layout)
    else:
        bringup.up(layout, base)
        forget_extra_hosts(layout, args.small)
    summary = [f"largest_up: {largest}"]
    summary += [f"mb_per_hypervisor_{n}: {v:.2f}" for n, v in per_hv.items()]
    summary += [f"boots_per_min_{n}: {v:.1f}" for n, v in rates.items()]
    summary.append(f"load: {load()}")
    print(", ".join(summary))


if __name__ == "__main__":
    main()
