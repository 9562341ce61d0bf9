"""``devcloud up --conductors 2``: a region's second nova-conductor shares its conductor queue and its work.

The process is the one ``up --conductors 2`` starts (taken from the bring-up plan), run by hand
beside the session's cloud rather than by re-shaping that shared cloud: the same argv and
configuration, without restarting every service of both regions for one test.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import openstack
import pytest

from opsflow.devcloud import bringup, broker, clouds, configs
from opsflow.devcloud import venv as services_venv
from opsflow.devcloud.layout import Layout
from tests.fixtures import eventually
from tests.functional.devcloud.conftest import boot

pytestmark = pytest.mark.functional


def _conductor_consumers(layout: Layout) -> int:
    vhost = layout.region("source").vhost
    return sum(consumers for queue_vhost, name, _messages, consumers in broker.list_queues(layout)
               if queue_vhost == vhost and name == "conductor")


def _all_reported_since(admin: Any, since: datetime.datetime) -> bool:
    """True when every compute service has heartbeated after ``since`` (naive UTC, as nova says it)."""
    services = list(admin.compute.services(binary="nova-compute"))
    return bool(services) and all(
        svc.state == "up" and datetime.datetime.fromisoformat(svc.updated_at.rstrip("Z")) > since for svc in services)


def test_a_second_conductor_consumes_the_regions_conductor_queue_and_boots_go_on(devcloud: Layout,
                                                                                   tmp_path: Path) -> None:
    sim = configs.SimSettings(conductors=2)
    (second,) = [p for p in bringup.plan(devcloud, services_venv.venv_dir(devcloud.home), sim)
                 if p.name == "source-nova-conductor-2"]
    assert _conductor_consumers(devcloud) == 1
    log = tmp_path / "conductor-2.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(second.argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    conn = openstack.connect(cloud=clouds.cloud_names("source")[0])  # the demo user
    admin = openstack.connect(cloud=clouds.cloud_names("source")[1])
    try:
        eventually(lambda: bringup.NOVA_READY in log.read_text(), 180, "the second conductor's ready line")
        eventually(lambda: _conductor_consumers(devcloud) == 2, 60, "two consumers on the conductor queue")
        server = boot(conn)
        assert server.status == "ACTIVE"
        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, interval=1, wait=120)  # no build or delete in flight at the stop
        stopped_at = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
        eventually(lambda: _conductor_consumers(devcloud) == 1, 60, "one consumer again once it stopped")
        # A call a conductor takes as it stops can go unanswered (the caller's MessagingTimeout comes
        # rpc_response_timeout later); when it is a heartbeat, that host shows down until then. The
        # shared cloud goes to the next test only once every host has reported since the stop.
        eventually(lambda: _all_reported_since(admin, stopped_at), bringup.RPC_TIMEOUT + 60,
                   "a heartbeat from every source hypervisor since the second conductor stopped")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        conn.close()
        admin.close()
