"""``openstack flow|job`` through the plugin, against the simulated cloud's own opsflow API.

The devcloud registers opsflow in Keystone's catalog (type workflow-ops) and runs ``opsflow api``
and a conductor on its own ZooKeeper; the plugin finds the endpoint in the catalog. A job that
waits for a signal stays on the board while it is listed, then the signal ends it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from opsflow.devcloud.layout import Layout
from tests.functional.api.conftest import wait_for

pytestmark = pytest.mark.functional

OPENSTACK = str(Path(sys.executable).parent / "openstack")
WAITS = """
name: api-osc-wait
tasks:
  - name: hold
    action: core.wait
    args: {signal: go}
"""


def openstack(*args: str, cloud: str = "devcloud-source") -> Any:
    """``openstack --os-cloud CLOUD ARGS -f json``, parsed."""
    done = subprocess.run([OPENSTACK, "--os-cloud", cloud, *args, "-f", "json"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_openstack_job_list_finds_the_api_in_the_catalog(devcloud: Layout, tmp_path: Path) -> None:
    """submit, list (-c), show and flow list work as any openstack command; the endpoint comes from the catalog."""
    flows = openstack("flow", "list", "-c", "name")
    assert {"name": "forklift"} in flows
    definition = tmp_path / "wait.yaml"
    definition.write_text(WAITS)
    job = openstack("job", "submit", str(definition))
    listed = openstack("job", "list", "-c", "id", "-c", "state")
    assert {"id": job["id"], "state": job["state"]} in listed or job["id"] in [j["id"] for j in listed]
    shown = wait_for(lambda: (lambda j: j if j["state"] == "waiting" else None)(openstack("job", "show", job["id"])),
                     what="the job waiting for its signal")
    assert shown["name"] == "api-osc-wait"
    cancelled = openstack("job", "cancel", job["id"])
    assert cancelled["id"] == job["id"]
