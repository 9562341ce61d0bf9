"""``openstack job ...`` through the plugin, and ``opsflow jobs ... --api``, against the simulated cloud.

The devcloud registers opsflow in Keystone's catalog (type workflow-ops) and runs ``opsflow api``
and a conductor on its own ZooKeeper; both clients find the endpoint in the catalog. The job
waits for a signal, so it stays on the board while it is listed; it is cancelled at the end.
Every command is a process of its own (as a user types them), so the test keeps to five.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from opsflow.devcloud.layout import Layout

pytestmark = pytest.mark.functional

BIN = Path(sys.executable).parent
CLOUD = "devcloud-source"
WAITS = """
name: api-osc-wait
tasks:
  - name: hold
    action: core.wait
    args: {signal: go}
"""


def run(*argv: str) -> Any:
    """Run a command of the virtualenv as the demo user; its JSON output."""
    done = subprocess.run([str(BIN / argv[0]), *argv[1:], "-f", "json"], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "OS_CLOUD": CLOUD})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_openstack_job_list_and_opsflow_jobs_find_the_api_in_the_catalog(devcloud: Layout, tmp_path: Path) -> None:
    """submit, list with -c, the opsflow CLI's list and show over the API, and cancel, all as user demo."""
    definition = tmp_path / "wait.yaml"
    definition.write_text(WAITS)
    job = run("openstack", "job", "submit", str(definition))
    assert job["name"] == "api-osc-wait" and job["project_id"]
    listed = run("openstack", "job", "list", "-c", "id", "-c", "name")
    assert {"id": job["id"], "name": "api-osc-wait"} in listed
    assert {"id": job["id"], "name": "api-osc-wait"} in run("opsflow", "jobs", "list", "--api", "catalog",
                                                            "-c", "id", "-c", "name")
    shown = run("opsflow", "jobs", "show", job["id"], "--api", "catalog")
    assert shown["id"] == job["id"] and shown["project"] == job["project_id"]
    assert run("openstack", "job", "cancel", job["id"])["id"] == job["id"]
