"""Fixtures of the auth suites: fresh users in the devcloud's Keystone, their clouds, token requests.

Every test gets users of its own (unique names, removed afterwards with their credentials), so the
suites never depend on order and replay/lockout state in memcached never leaks between tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openstack
import pytest
import requests
import yaml

from opsflow.devcloud import auth as devcloud_auth
from opsflow.devcloud.layout import Layout

ADMIN_CLOUD = "devcloud-source-admin"


@dataclass(frozen=True)
class User:
    """A user made for one test."""

    id: str
    name: str
    password: str
    project_id: str
    #: Its clouds.yaml entry.
    cloud: str


@pytest.fixture
def admin(devcloud: Layout) -> Iterator[Any]:
    """An openstacksdk connection as the devcloud's admin."""
    conn = openstack.connect(cloud=ADMIN_CLOUD)
    yield conn
    conn.close()


@pytest.fixture
def clouds_file(devcloud: Layout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clouds.yaml of this test: the devcloud's entries plus one per user made."""
    path = tmp_path / "clouds.yaml"
    path.write_text(devcloud.clouds_yaml.read_text())
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
    return path


@pytest.fixture
def make_user(admin: Any, clouds_file: Path, devcloud: Layout) -> Iterator[Callable[..., User]]:
    """Make users (member of project demo, optionally with more roles) with their own cloud entry."""
    made: list[str] = []
    demo = admin.identity.find_project("demo")

    def make(*roles: str, email: str | None = None) -> User:
        name = f"auth-{uuid.uuid4().hex[:10]}"
        password = uuid.uuid4().hex
        user = admin.identity.create_user(name=name, password=password, domain_id="default",
                                          default_project_id=demo.id, email=email)
        made.append(user.id)
        for role in ("member", *roles):
            found = admin.identity.find_role(role) or admin.identity.create_role(name=role)
            admin.identity.assign_project_role_to_user(demo, user, found)
        data = yaml.safe_load(clouds_file.read_text())
        data["clouds"][name] = {"auth": {"auth_url": devcloud.auth_url, "username": name, "password": password,
                                         "project_name": "demo", "user_domain_name": "Default",
                                         "project_domain_name": "Default"},
                                "identity_api_version": 3, "region_name": "source", "interface": "public"}
        clouds_file.write_text(yaml.safe_dump(data))
        return User(user.id, name, password, demo.id, name)

    yield make
    for user_id in made:
        for cred in admin.identity.credentials(user_id=user_id):
            admin.identity.delete_credential(cred)
        admin.identity.delete_user(user_id, ignore_missing=True)


@pytest.fixture
def login(devcloud: Layout) -> Callable[..., requests.Response]:
    """POST /v3/auth/tokens with a password and/or a passcode (and a receipt)."""

    def request(user: User, password: str | None = None, passcode: str | None = None,
                receipt: str | None = None) -> requests.Response:
        methods, identity = [], {}
        if password is not None:
            methods.append("password")
            identity["password"] = {"user": {"name": user.name, "domain": {"id": "default"}, "password": password}}
        if passcode is not None:
            methods.append("totp")
            identity["totp"] = {"user": {"id": user.id, "passcode": passcode}}
        headers = {"Openstack-Auth-Receipt": receipt} if receipt else {}
        return requests.post(f"{devcloud.auth_url}/auth/tokens", headers=headers, timeout=30,
                             json={"auth": {"identity": {"methods": methods, **identity}}})

    return request


def reason(resp: requests.Response) -> str:
    """The ``reason`` opsflow's middleware put in an error body ("" for Keystone's own errors)."""
    try:
        return str(resp.json().get("error", {}).get("reason", ""))
    except (ValueError, AttributeError):
        return ""


MFA_ROLE = devcloud_auth.MFA_ROLE
