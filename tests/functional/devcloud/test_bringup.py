"""The bring-up itself: idempotent, and status shows every service healthy."""

from __future__ import annotations

import time

import psutil
import pytest
from click.testing import CliRunner

from opsflow.devcloud import bringup, broker, configs, procs, seed
from opsflow.devcloud.cli import devcloud as devcloud_cli
from opsflow.devcloud.layout import Layout
from opsflow.plugins.nova import controls
from tests.fixtures import eventually

pytestmark = pytest.mark.functional


def test_second_up_changes_nothing(devcloud: Layout) -> None:
    """`up` on a running cloud does nothing and returns within seconds."""
    started = time.monotonic()
    said = bringup.up(devcloud, configs.SimSettings())
    assert "nothing to do" in said
    assert time.monotonic() - started < 15


def test_status_shows_every_service_ok(devcloud: Layout) -> None:
    """`devcloud status` lists each service with port and pid, all ok, and exits 0."""
    result = CliRunner().invoke(devcloud_cli, ["status", "-f", "json"])
    assert result.exit_code == 0, result.output
    rows = bringup.status(devcloud, configs.SimSettings())
    assert {r.name for r in rows} >= {"rabbitmq", "keystone", "source-nova-api", "destination-neutron",
                                      "source-compute", "destination-glance"}
    assert next(r.port for r in rows if r.name == "rabbitmq") == devcloud.broker_port
    assert all(r.health == "ok" for r in rows)
    assert all(r.pid for r in rows if not r.name.endswith("-nova-computes"))
    assert {r.name for r in rows} >= {"source-nova-computes", "destination-nova-computes"}


def test_the_services_talk_to_the_clouds_own_broker_never_the_machines(devcloud: Layout) -> None:
    """Every RPC connection of conductor, scheduler and computes goes to this cloud's RabbitMQ
    (base+80), none to the machine's shared one on 5672; the broker has both regions' queues."""
    for name in ("source-nova-control", "destination-compute"):
        pid = procs.alive_pid(devcloud.run, name)
        assert pid is not None, name
        group = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
        ports = {c.raddr.port for p in group for c in p.net_connections("tcp") if c.raddr}
        assert devcloud.broker_port in ports, (name, ports)
        assert 5672 not in ports, name
    queues = {(vhost, name) for vhost, name, _, _ in broker.list_queues(devcloud)}
    for region in devcloud.regions():
        assert (region.vhost, f"compute.{region.host_prefix}001") in queues
        assert (region.vhost, "conductor") in queues


def test_status_says_when_nova_sees_a_hypervisor_down_though_its_process_runs(devcloud: Layout) -> None:
    """A host that stops heartbeating turns its region's row to "1/2 up" (exit 1), and back to ok."""
    region = devcloud.region("source")
    host = f"{region.host_prefix}001"

    def nova_row() -> str:
        rows = bringup.status(devcloud, configs.SimSettings())
        return next(r.health for r in rows if r.name == "source-nova-computes")

    controls.silence(region.disk_dir, host)
    try:
        eventually(lambda: nova_row() == "1/2 up", 120, "nova calling the silent host down")
        assert CliRunner().invoke(devcloud_cli, ["status"]).exit_code == 1
    finally:
        controls.unsilence(region.disk_dir, host)
    eventually(lambda: nova_row() == "ok", 120, "the host reporting again")


def test_a_shrunk_region_forgets_the_hypervisors_it_no_longer_runs(devcloud: Layout) -> None:
    """Grown to 3 hypervisors and shrunk back to 2, region source has 2 in nova and in Placement:
    the third's compute service, compute node and resource provider are gone, not left down."""
    region = devcloud.region("source")
    third = f"{region.host_prefix}003"
    bringup.resize(devcloud, "source", 3, 2)
    conn = seed.admin_connection(devcloud, "source")
    try:
        assert third in {s.host for s in conn.compute.services(binary="nova-compute") if s.state == "up"}
        bringup.up(devcloud, configs.SimSettings())
        assert sorted(s.host for s in conn.compute.services(binary="nova-compute")) == \
            [f"{region.host_prefix}001", f"{region.host_prefix}002"]
        assert sorted(h.name for h in conn.compute.hypervisors()) == \
            [f"{region.host_prefix}001", f"{region.host_prefix}002"]
        assert third not in {p.name for p in conn.placement.resource_providers()}
    finally:
        conn.close()
        bringup.up(devcloud, configs.SimSettings())
