"""opsflow's scheduler plugins inside a real nova-scheduler on the simulated cloud."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator

import pytest

from opsflow.devcloud import bringup, configs
from opsflow.devcloud.layout import Layout
from opsflow.devcloud.scheduler_modes import SchedulerMode
from opsflow.sched import cloud

pytestmark = [pytest.mark.functional, pytest.mark.slow]

REGION = "source"


def _with_scheduler(layout: Layout, mode: SchedulerMode) -> None:
    bringup.up(layout, dataclasses.replace(configs.SimSettings(), scheduler=mode))


@pytest.fixture(scope="module")
def scheduler_modes(devcloud: Layout) -> Iterator[Layout]:
    """The session's cloud, given back with its usual scheduler whatever the tests switched to."""
    yield devcloud
    _with_scheduler(devcloud, SchedulerMode.DEVCLOUD)


def _memcached_writes(port: int) -> int:
    """Writes memcached has served (``cmd_set`` counts set, add and cas), over its text protocol
    (the tests' virtualenv has no memcached client)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"stats\r\n")
        data = b""
        while not data.endswith(b"END\r\n"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    stats = dict(line.split()[1:3] for line in data.decode().splitlines() if line.startswith("STAT "))
    return int(stats["cmd_set"])


def _busiest_share(burst: cloud.CloudBurst) -> float:
    """The fullest hypervisor's share once the burst landed, what it held before included."""
    vcpus, ram_mb = burst.flavor
    return max(load.share_after(n, vcpus, ram_mb) for load, n in zip(burst.before, burst.per_host))


def _best_share(burst: cloud.CloudBurst) -> float:
    """The fullest hypervisor's share had each server of the burst gone to the emptiest host: the
    even spread when the hosts start even, the emptier hosts first when earlier suites left load."""
    vcpus, ram_mb = burst.flavor
    placed = [0] * len(burst.before)
    for _ in range(sum(burst.per_host)):
        emptiest = min(range(len(placed)), key=lambda i: burst.before[i].share_after(placed[i] + 1, vcpus, ram_mb))
        placed[emptiest] += 1
    return max(load.share_after(n, vcpus, ram_mb) for load, n in zip(burst.before, placed))


def test_plugins_spread_a_burst_nova_defaults_stack(scheduler_modes: Layout) -> None:
    """With opsflow's filter and weigher loaded, real nova-scheduler spreads a simultaneous burst as
    evenly as the hypervisors' load allows and shares each placement in memcached; nova's defaults
    do no better."""
    layout = scheduler_modes
    _with_scheduler(layout, SchedulerMode.NOVA_DEFAULTS)
    stock = cloud.burst(layout, REGION, 4, concurrency=4)
    _with_scheduler(layout, SchedulerMode.OPSFLOW)
    writes = _memcached_writes(layout.memcached_port)
    ours = cloud.burst(layout, REGION, 4, concurrency=4)
    assert stock.errors == ours.errors == 0
    assert _busiest_share(ours) == pytest.approx(_best_share(ours)), ours
    if len(set(ours.before)) == 1:
        assert sorted(ours.per_host) == [2, 2], ours
    assert _busiest_share(ours) <= _busiest_share(stock) + 1e-9, (ours, stock)
    assert _memcached_writes(layout.memcached_port) - writes >= 4, "each placement is shared in memcached"
