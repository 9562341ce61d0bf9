"""Hundreds of simulated hypervisors in one region register and report up in nova.

Skipped unless ``OPSFLOW_SIM_SCALE=N`` is set (e.g. 300; about 5 minutes here, more on a loaded
machine): N hypervisors in region source, 2 in destination, on the cloud's own broker. The cloud
is put back to 2 per region after, which deletes the extra hosts' services from nova.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from opsflow.devcloud import bringup, broker, configs, seed
from opsflow.devcloud.layout import Layout

pytestmark = [pytest.mark.functional, pytest.mark.slow,
              pytest.mark.skipif("OPSFLOW_SIM_SCALE" not in os.environ,
                                 reason="set OPSFLOW_SIM_SCALE=N to bring up N hypervisors")]

SCALE = int(os.environ.get("OPSFLOW_SIM_SCALE", "0"))


@pytest.fixture
def scaled(devcloud: Layout) -> Iterator[Layout]:
    """The cloud with SCALE hypervisors in source; back to the default after."""
    bringup.up(devcloud, configs.SimSettings(computes=SCALE, destination_computes=2))
    try:
        yield devcloud
    finally:
        bringup.up(devcloud, configs.SimSettings())  # which forgets the extra hosts in nova


def test_every_hypervisor_registers_and_reports_up(scaled: Layout) -> None:
    """All SCALE compute services are up and enabled in nova, each with its own queue on the
    cloud's broker, and `status` says ok."""
    region = scaled.region("source")
    conn = seed.admin_connection(scaled, "source")
    try:
        up = {s.host for s in conn.compute.services(binary="nova-compute")
              if s.host.startswith(region.host_prefix) and s.state == "up" and s.status == "enabled"}
    finally:
        conn.close()
    assert len(up) == SCALE
    queues = {name for vhost, name, _, _ in broker.list_queues(scaled) if vhost == region.vhost}
    assert {f"compute.{h}" for h in up} <= queues
    rows = bringup.status(scaled, configs.SimSettings(computes=SCALE, destination_computes=2))
    assert next(r.health for r in rows if r.name == "source-nova-computes") == "ok"
