"""The two command lines of the API suites, each as one of the personas: ``opsflow --api`` and ``openstack``.

``clouds.yaml`` (written once per module) has the devcloud's clouds and one per persona (``api-owner``,
``api-reader``, ``api-other``, ``api-admin``) and one whose password Keystone refuses
(``api-wrong``, a user it does not know). ``opsflow`` runs in this process through its real entry point
(``tests.fixtures.opsflow``: exit codes and one-line errors included), ``openstack`` as a process
of its own, as a user types it.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from opsflow.devcloud import layout as lay
from tests import fixtures
from tests.functional.api.conftest import Api, Persona

OPENSTACK = str(Path(sys.executable).parent / "openstack")

WAITS = """
name: api-cli-wait
tasks:
  - name: hold
    action: core.wait
    args: {signal: go}
  - name: after
    action: core.noop
    after: [hold]
"""
FAILS = """
name: api-cli-fails
on_failure: pause
tasks:
  - name: first
    action: core.noop
  - name: boom
    action: core.fail
    after: [first]
"""


@dataclasses.dataclass(frozen=True)
class Done:
    """A finished command."""

    code: int
    out: str
    err: str


def write_clouds_yaml(path: Path, devcloud: lay.Layout, personas: dict[str, Persona]) -> Path:
    """The devcloud's clouds, one per persona, and ``api-wrong`` (a user Keystone does not know)."""
    def cloud(user: str, password: str, project: str) -> dict[str, Any]:
        return {"auth": {"auth_url": devcloud.auth_url, "username": user, "password": password,
                         "project_name": project, "user_domain_name": "Default", "project_domain_name": "Default"},
                "region_name": lay.REGIONS[0], "identity_api_version": "3"}

    clouds = dict(yaml.safe_load(devcloud.clouds_yaml.read_text())["clouds"])  # conductors and sweeps use them
    clouds.update({f"api-{name}": cloud(p.name, p.password, p.project) for name, p in personas.items()})
    # A user Keystone does not know: a wrong password for a real one would count toward its lockout.
    clouds["api-wrong"] = cloud("api-nobody", "not-a-password", personas["owner"].project)
    path.write_text(yaml.safe_dump({"clouds": clouds}))
    return path


def opsflow(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], who: str, *argv: str) -> Done:
    """``opsflow ARGV`` as persona ``who`` (its exit code, stdout, stderr)."""
    capsys.readouterr()  # what came before is not this command's
    monkeypatch.setenv("OS_CLOUD", f"api-{who}")
    return Done(*fixtures.opsflow(capsys, *argv))


def openstack(clouds_yaml: Path, api: Api, who: str, *argv: str) -> Done:
    """``openstack ARGV`` as persona ``who``, the plugin pointed at the test's API (``OS_OPSFLOW_URL``)."""
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(clouds_yaml), "OS_CLOUD": f"api-{who}",
           "OS_OPSFLOW_URL": api.url}
    done = subprocess.run([OPENSTACK, *argv], capture_output=True, text=True, timeout=120, env=env)
    return Done(done.returncode, done.stdout, done.stderr)


def job(api: Api, who: Persona, job_id: str) -> dict[str, Any]:
    """The job as the API shows it to ``who``."""
    reply = requests.get(f"{api.url}/v1/jobs/{job_id}", headers=who.headers, timeout=30)
    assert reply.status_code == 200, reply.text
    found: dict[str, Any] = reply.json()["job"]
    return found


def wait_state(api: Api, who: Persona, job_id: str, state: str, timeout: float = 90.0) -> dict[str, Any]:
    """Poll until the job is in ``state`` (on the board) or its run ended in it."""
    deadline = time.monotonic() + timeout
    while True:
        found = job(api, who, job_id)
        if found["state"] == state or (not found["on_board"] and found["run_state"] == state):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} not {state} within {timeout} s: {found['state']}/{found['run_state']}")
        time.sleep(0.3)
