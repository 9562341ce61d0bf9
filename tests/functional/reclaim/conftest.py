"""A project of the reclaim tests' own on the simulated cloud, its owners, and servers in every condition."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openstack
import pytest

from opsflow.devcloud import clouds, seed
from opsflow.devcloud.layout import Layout
from opsflow.reclaim import policy
from opsflow.services import smtp

SOURCE, SOURCE_ADMIN = clouds.cloud_names("source")
DAY = 86400.0
PASSWORD = "reclaim-test-secret"


class MovableClock:
    """The real clock plus an offset the test moves (a week passes in a line)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclasses.dataclass
class Tenancy:
    """The test's project, its two owners and a connection as each."""

    admin: Any
    project: Any
    alice: Any
    bob: Any
    as_alice: Any
    as_bob: Any

    def boot(self, conn: Any, name: str, *, metadata: dict[str, str] | None = None,
             tags: list[str] | None = None) -> Any:
        """Create a server (not waited for)."""
        return conn.compute.create_server(
            name=name, image_id=seed.image_id(self.admin), networks=[{"uuid": self._network()}],
            flavor_id=conn.compute.find_flavor("m1.tiny", ignore_missing=False).id,
            metadata=metadata or {}, tags=tags or [])

    def _network(self) -> str:
        return str(self.admin.network.find_network(seed.NETWORK_NAME, ignore_missing=False).id)

    def wait(self, server: Any, status: str = "ACTIVE") -> Any:
        """Wait until the server reaches ``status``."""
        return self.admin.compute.wait_for_server(server, status=status, failures=[] if status == "ERROR"
                                                  else ["ERROR"], interval=1, wait=240)

    def server(self, server_id: str) -> Any:
        """The server as admin sees it, or None once deleted."""
        return self.admin.compute.find_server(server_id, ignore_missing=True, all_projects=True)


def _connect_as(admin: Any, user: Any, project: Any) -> Any:
    auth = admin.config.auth
    return openstack.connect(auth_url=auth["auth_url"], username=user.name, password=PASSWORD,
                             project_id=project.id, user_domain_id="default", project_domain_id="default",
                             region_name=admin.config.region_name)


@pytest.fixture(scope="module")
def tenancy(devcloud: Layout) -> Iterator[Tenancy]:
    """A fresh project with members alice (e-mail set) and bob; removed afterwards with its servers."""
    admin = openstack.connect(cloud=SOURCE_ADMIN)
    tag = uuid.uuid4().hex[:6]
    project = admin.identity.create_project(name=f"reclaim-{tag}", domain_id="default")
    member = admin.identity.find_role("member", ignore_missing=False)
    people = []
    for who in ("alice", "bob"):
        user = admin.identity.create_user(name=f"{who}-{tag}", password=PASSWORD, domain_id="default",
                                          email=f"{who}-{tag}@example.org", default_project_id=project.id)
        admin.identity.assign_project_role_to_user(project, user, member)
        people.append(user)
    admin_user = admin.identity.find_user("admin", ignore_missing=False)
    admin.identity.assign_project_role_to_user(project, admin_user, member)  # hibernate acts in the project
    tenancy = Tenancy(admin, project, people[0], people[1], _connect_as(admin, people[0], project),
                      _connect_as(admin, people[1], project))
    yield tenancy
    for server in admin.compute.servers(all_projects=True, project_id=project.id):
        admin.compute.delete_server(server, ignore_missing=True)
    for user in people:
        admin.identity.delete_user(user, ignore_missing=True)
    for conn in (tenancy.as_alice, tenancy.as_bob):
        conn.close()
    admin.close()


@pytest.fixture()
def mail() -> Iterator[smtp.Capture]:
    """A real SMTP server on loopback capturing every notice."""
    with smtp.serving() as capture:
        yield capture


def policy_text(tenancy: Tenancy, mail_port: int, *, action: str = "delete", notice: str = "7d",
                final: str = "2d", link_url: str = "http://127.0.0.1:9/") -> str:
    """A policy scoped to the test's project: every detector, e-mail to the owners, keep links."""
    return f"""
cloud: {SOURCE_ADMIN}
where: {{projects: [{tenancy.project.name}]}}
detectors:
  boot_failure: {{after: 0s}}
  owner_disabled: {{}}
  idle: {{days: 1}}
  expired: {{key: lease-until}}
exclude: {{tags: [reclaim-exempt]}}
stages: {{notice: {notice}, final: {final}}}
action: {action}
notify:
  - email: {{host: 127.0.0.1, port: {mail_port}, sender: reclaim@example.org}}
links: {{url: "{link_url}", key: "a test key of enough length", ttl: 30d}}
"""


def load_policy(tmp_path: Path, text: str) -> policy.Policy:
    """Write and load a policy file."""
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return policy.load_file(path)
