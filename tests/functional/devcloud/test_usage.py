"""What the simulated hypervisors report: capacity and per-VM usage."""

from __future__ import annotations

from typing import Any

import pytest

from opsflow.devcloud.layout import Layout

from .conftest import boot

pytestmark = pytest.mark.functional


def test_hypervisors_report_configured_capacity(devcloud: Layout, region: str, admin: Any) -> None:
    """Each simulated hypervisor is its own host with realistic capacity, not nova's 1000 vCPUs."""
    hypervisors = list(admin.compute.hypervisors(details=True))
    names = sorted(h.name for h in hypervisors)
    prefix = devcloud.region(region).host_prefix
    assert names and all(n.startswith(prefix) for n in names)
    services = {s.host for s in admin.compute.services(binary="nova-compute")}
    assert set(names) <= services


def test_hypervisor_uptime_is_what_uptime_prints_on_the_host(admin: Any) -> None:
    """`openstack hypervisor show` has the host's uptime and load averages (nova asks the driver)."""
    hypervisor = admin.compute.get_hypervisor(next(iter(admin.compute.hypervisors())).id)
    assert " up " in hypervisor.uptime and "load average:" in hypervisor.uptime


def test_diagnostics_tell_idle_from_busy(demo: Any, admin: Any) -> None:
    """Diagnostics show CPU time; an idle VM's utilisation is near zero, a busy one's is not."""
    idle = boot(demo, metadata={"opsflow-sim:activity": "idle"}, wait=False)
    busy = boot(demo, metadata={"opsflow-sim:activity": "busy"}, wait=False)
    try:
        for srv in (idle, busy):
            demo.compute.wait_for_server(srv, interval=1, wait=180)
        idle_cpu = admin.compute.get_server_diagnostics(idle).cpu_details[0]
        busy_cpu = admin.compute.get_server_diagnostics(busy).cpu_details[0]
        assert idle_cpu["utilisation"] == 0
        assert busy_cpu["utilisation"] > 10
        assert busy_cpu["time"] > idle_cpu["time"]
        legacy = admin.compute.get(f"/servers/{idle.id}/diagnostics", microversion="2.1").json()
        assert legacy["activity"] == "idle"
        assert legacy["last_activity"].endswith("Z")
    finally:
        for srv in (idle, busy):
            demo.compute.delete_server(srv, ignore_missing=True)
        for srv in (idle, busy):
            demo.compute.wait_for_delete(srv, interval=1, wait=120)
