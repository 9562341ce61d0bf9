"""Simulated hypervisors shared over worker processes: one ready line once every worker's hosts are up,
and a worker that dies takes the whole group down, so the supervisor sees one process fail.

Runs the compute process by hand beside the cloud's own, with hosts of its own (``wkr-001`` ...)
that are deleted from nova afterwards.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from opsflow.devcloud import seed
from opsflow.devcloud import venv as services_venv
from opsflow.devcloud.layout import Layout

pytestmark = pytest.mark.functional

PREFIX = "wkr-"
HOSTS = [f"{PREFIX}{i:03d}" for i in range(1, 5)]


def _wait(what: str, check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f} s"
        time.sleep(1)
    return found


@pytest.fixture
def admin(devcloud: Layout) -> Iterator[Any]:
    """Admin in region source; the test's hosts are deleted from nova afterwards."""
    conn = seed.admin_connection(devcloud, "source")
    yield conn
    for svc in conn.compute.services(binary="nova-compute"):
        if svc.host.startswith(PREFIX):
            conn.compute.delete_service(svc)
    conn.close()


def test_two_workers_start_their_hosts_together_and_one_dying_stops_them_all(devcloud: Layout, admin: Any,
                                                                              tmp_path: Path) -> None:
    region = devcloud.region("source")
    log = tmp_path / "compute.log"
    argv = [str(services_venv.python(devcloud.home)), "-m", "opsflow.plugins.nova.host",
            "--config-file", str(region.root / "nova" / "nova-compute.conf"),
            "--prefix", PREFIX, "--count", str(len(HOSTS)), "--processes", "2"]
    with open(log, "wb") as out:
        leader = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait("the ready line", lambda: "4 simulated hypervisor(s) started in 2 process(es)" in log.read_text(),
              240)
        assert "worker of 2 hosts up: wkr-003 … wkr-004" in log.read_text()
        (worker,) = psutil.Process(leader.pid).children()
        _wait("the four hosts up in nova", lambda: {s.host for s in admin.compute.services(binary="nova-compute")
                                                    if s.host.startswith(PREFIX) and s.state == "up"} == set(HOSTS),
              120)
        os.kill(worker.pid, signal.SIGKILL)
        leader.wait(timeout=90)
        assert "ended (status 9); stopping them all" in log.read_text()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(leader.pid, signal.SIGKILL)
        leader.wait(timeout=30)
