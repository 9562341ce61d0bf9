"""Failures the simulator injects on demand: a hypervisor that stops reporting."""

from __future__ import annotations

import time
from typing import Any

import openstack
import pytest

from opsflow.devcloud import clouds
from opsflow.devcloud.layout import Layout
from opsflow.plugins.nova import controls

pytestmark = [pytest.mark.functional, pytest.mark.slow]


def wait_state(conn: Any, host: str, state: str, timeout: float) -> None:
    """Wait until nova reports ``host``'s compute service in ``state``."""
    deadline = time.monotonic() + timeout
    while True:
        (svc,) = conn.compute.services(binary="nova-compute", host=host)
        if svc.state == state:
            return
        assert time.monotonic() < deadline, f"{host} still {svc.state} after {timeout:.0f} s"
        time.sleep(2)


def test_a_silent_host_goes_down_and_comes_back(devcloud: Layout) -> None:
    """A host flagged SILENT stops its heartbeat and shows down; removing the flag brings it back up."""
    conn = openstack.connect(cloud=clouds.cloud_names("source")[1])
    region = devcloud.region("source")
    host = f"{region.host_prefix}001"
    controls.silence(region.disk_dir, host)
    try:
        wait_state(conn, host, "down", 60)
        other = f"{region.host_prefix}002"
        (peer,) = conn.compute.services(binary="nova-compute", host=other)
        assert peer.state == "up"
    finally:
        controls.unsilence(region.disk_dir, host)
    wait_state(conn, host, "up", 30)
    conn.close()
