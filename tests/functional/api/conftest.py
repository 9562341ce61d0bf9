"""Fixtures of the API suites: ``opsflow api`` against the devcloud's real Keystone and a real ZooKeeper.

The API runs as its own process (``opsflow api serve``) with a paste file of this session: the
real pipeline (cookie filter, the access-key filter, keystonemiddleware's ``auth_token`` against
the devcloud's Keystone, the app) on a jobboard root of its own in the session's ZooKeeper. Tokens are real Keystone
tokens of real users: ``demo`` (member of project demo, the owner), ``admin``, and users made
here once per session: ``api-reader`` (reader in demo) and ``api-other`` (member of project
api-other).
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openstack
import pytest
import requests

from opsflow.api import pipeline
from opsflow.devcloud import clouds, seed
from opsflow.devcloud import layout as lay
from opsflow.devcloud import opsflow_api
from opsflow.identity.service_user import ServiceUser
from opsflow.services import zookeeper

OTHER_PASSWORD = "api-other-pass"
OPSFLOW = str(Path(sys.executable).parent / "opsflow")


@dataclasses.dataclass(frozen=True)
class Api:
    """A running API process."""

    url: str
    #: Its jobboard (``--zookeeper``), for conductors of a test.
    zookeeper: str
    log: Path


@dataclasses.dataclass(frozen=True)
class Persona:
    """A Keystone user with a project-scoped token."""

    name: str
    password: str
    project: str
    project_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        """Headers that authenticate as this user."""
        return {"X-Auth-Token": self.token}

    def sign_in(self, page: Any) -> None:
        """Fill and send the dashboard's sign-in form showing on a playwright ``page``."""
        page.fill("input[name=username]", self.name)
        page.fill("input[name=password]", self.password)
        page.fill("input[name=project]", self.project)
        page.click("button[type=submit]")


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"opsflow api exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise RuntimeError(f"opsflow api did not answer at {url} within {timeout} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def api(devcloud: lay.Layout, zookeeper_hosts: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """``opsflow api serve`` on a free port, its jobboard under a root of this session."""
    work = tmp_path_factory.mktemp("api")
    board = f"{zookeeper_hosts}/api-{uuid.uuid4().hex[:8]}"
    paste = work / "api-paste.ini"
    paste.write_text(pipeline.paste_ini(pipeline.PasteSettings(
        zookeeper=board, service=ServiceUser(devcloud.auth_url, opsflow_api.SERVICE_USER, lay.SERVICE_PASSWORD),
        access_key_memcache=f"127.0.0.1:{devcloud.memcached_port}")))
    port = zookeeper.find_free_ports(1)
    log = work / "api.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([OPSFLOW, "api", "serve", "--paste", str(paste), "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_http(f"http://127.0.0.1:{port}/", proc, log)
        yield Api(f"http://127.0.0.1:{port}", board, log)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _token(layout: lay.Layout, user: str, password: str, project: str) -> tuple[str, str]:
    body: dict[str, Any] = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "password": password, "domain": {"name": "Default"}}}},
        "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}}
    reply = requests.post(f"{layout.auth_url}/auth/tokens", json=body, timeout=30)
    reply.raise_for_status()
    return reply.headers["X-Subject-Token"], reply.json()["token"]["project"]["id"]


def _ensure_user(conn: Any, name: str, project_name: str, role: str) -> None:
    project = conn.identity.find_project(project_name, domain_id="default") or conn.identity.create_project(
        name=project_name, domain_id="default", description="opsflow API tests")
    user = conn.identity.find_user(name, domain_id="default") or conn.identity.create_user(
        name=name, password=OTHER_PASSWORD, domain_id="default", default_project_id=project.id)
    grant = conn.identity.find_role(role)
    if not conn.identity.validate_user_has_project_role(project, user, grant):
        conn.identity.assign_project_role_to_user(project, user, grant)


@pytest.fixture(scope="session")
def personas(devcloud: lay.Layout) -> dict[str, Persona]:
    """owner (demo), reader (reader in demo), other (member of another project), admin."""
    conn = openstack.connect(auth_url=devcloud.auth_url, username="admin", password=lay.ADMIN_PASSWORD,
                             project_name="admin", user_domain_name="Default", project_domain_name="Default",
                             region_name=lay.REGIONS[0], identity_api_version="3", load_yaml_config=False,
                             load_envvars=False)
    try:
        _ensure_user(conn, "api-reader", "demo", "reader")
        _ensure_user(conn, "api-other", "api-other", "member")
    finally:
        conn.close()
    wanted = {"owner": ("demo", lay.DEMO_PASSWORD, "demo"), "reader": ("api-reader", OTHER_PASSWORD, "demo"),
              "other": ("api-other", OTHER_PASSWORD, "api-other"), "admin": ("admin", lay.ADMIN_PASSWORD, "admin")}
    out = {}
    for persona, (user, password, project) in wanted.items():
        token, project_id = _token(devcloud, user, password, project)
        out[persona] = Persona(user, password, project, project_id, token)
    return out


@pytest.fixture
def conductor(api: Api, tmp_path: Path) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """Start conductors on the API's jobboard (stopped with SIGTERM afterwards)."""
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        log = open(tmp_path / f"conductor-{len(started)}.log", "wb")
        proc = subprocess.Popen([OPSFLOW, "conductor", "--zookeeper", api.zookeeper, "--session-timeout", "2"],
                                stdout=log, stderr=subprocess.STDOUT, env={**os.environ})
        log.close()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.terminate()
    for proc in started:
        proc.wait(timeout=20)


@pytest.fixture()
def tagged_server(devcloud: lay.Layout) -> Iterator[Any]:
    """An ACTIVE server of project demo carrying a reclaim tag of this test's own; deleted afterwards."""
    demo = openstack.connect(cloud=clouds.cloud_names("source")[0])
    tag = f"reclaim-api-{uuid.uuid4().hex[:6]}"
    server = demo.compute.create_server(
        name=tag, image_id=seed.image_id(demo), flavor_id=demo.compute.find_flavor("m1.tiny", ignore_missing=False).id,
        networks=[{"uuid": demo.network.find_network(seed.NETWORK_NAME, ignore_missing=False).id}], tags=[tag])
    try:
        yield demo.compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], interval=1, wait=240)
    finally:
        demo.compute.delete_server(server.id, ignore_missing=True)
        demo.close()


def wait_for(condition: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(0.2)
