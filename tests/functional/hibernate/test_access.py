"""Where a copy may go and who may touch it: a restore into the other region (shared Swift), and
another project's user who can neither read the copy nor restore it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openstack
import pytest
import yaml
from swiftclient import client as swift_client
from swiftclient.exceptions import ClientException

from opsflow.devcloud.layout import Layout
from opsflow.engines.records import RunState
from opsflow.hibernate import listing
from opsflow.hibernate.layout import Layout as StoreLayout
from opsflow.hibernate.swift import Swift

from .conftest import DESTINATION_ADMIN, SOURCE_ADMIN, boot_full, run_flow

pytestmark = pytest.mark.functional


@pytest.fixture(scope="module")
def copy(devcloud: Layout, demo: Any, admin: Any, keypair_and_group: tuple[str, str],
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, dict[str, str]]]:
    """(name, owner project, layout) of a server hibernated from the source region."""
    booted = boot_full(demo, *keypair_and_group)
    layout = {"container": f"hib-access-{uuid.uuid4().hex[:8]}"}
    record = run_flow(tmp_path_factory.mktemp("state") / "state.db", "hibernate",
                      {"cloud": SOURCE_ADMIN, "server": booted.id, "layout": layout, "segment_size": 1 << 20})
    assert record.state is RunState.SUCCEEDED, [t.error for t in record.tasks if t.error]
    yield booted.name, booted.project_id, layout
    listing.delete(Swift(demo), StoreLayout(**layout), booted.name)


def test_restore_into_the_other_region(copy: tuple[str, str, dict[str, str]], devcloud: Layout, demo: Any,
                                       tmp_path: Path) -> None:
    """A copy made in the source region restores in the destination, from the same Swift, with its disk."""
    name, project, layout = copy
    record = run_flow(tmp_path / "state.db", "restore",
                      {"cloud": DESTINATION_ADMIN, "name": name, "project": project, "layout": layout,
                       "access": str(devcloud.host_access)})
    dest = openstack.connect(cloud=DESTINATION_ADMIN)
    try:
        assert record.state is RunState.SUCCEEDED, [t.error for t in record.tasks if t.error]
        (server,) = list(dest.compute.servers(all_projects=True, name=f"^{name}$"))
        assert (server.project_id, server.status) == (project, "ACTIVE")
        manifest = listing.read(Swift(demo), StoreLayout(**layout), name)
        assert [(r.server_id, r.region) for r in manifest.restores] == [(server.id, "destination")]
    finally:
        _clean_destination(dest, name, project)


def _clean_destination(dest: Any, name: str, project: str) -> None:
    for server in dest.compute.servers(all_projects=True, name=f"^{name}$"):
        dest.compute.delete_server(server)
        dest.compute.wait_for_delete(server, wait=120)
    for group in dest.network.security_groups(project_id=project):
        if group.name.startswith("hib-sg-"):
            dest.network.delete_security_group(group, ignore_missing=True)
    for key in dest.compute.keypairs():
        if key.name.startswith("hib-key-"):
            dest.compute.delete_keypair(key, ignore_missing=True)


@pytest.fixture()
def stranger(devcloud: Layout, admin: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A user of a second project (member there only), as cloud ``hib-stranger``; removed afterwards."""
    suffix = uuid.uuid4().hex[:8]
    project = admin.identity.create_project(name=f"hib-other-{suffix}", domain_id="default")
    user = admin.identity.create_user(name=f"hib-stranger-{suffix}", password="stranger-pw", domain_id="default",
                                      default_project_id=project.id)
    admin.identity.assign_project_role_to_user(project, user, admin.identity.find_role("member"))
    entries = yaml.safe_load(devcloud.clouds_yaml.read_text())
    entries["clouds"]["hib-stranger"] = {
        "auth": {"auth_url": devcloud.auth_url, "username": user.name, "password": "stranger-pw",
                 "project_name": project.name, "user_domain_name": "Default", "project_domain_name": "Default"},
        "region_name": "source", "identity_api_version": 3, "interface": "public"}
    path = tmp_path / "clouds.yaml"
    path.write_text(yaml.safe_dump(entries))
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
    yield "hib-stranger"
    admin.identity.delete_user(user, ignore_missing=True)
    admin.identity.delete_project(project, ignore_missing=True)


def test_another_project_can_neither_read_nor_restore(copy: tuple[str, str, dict[str, str]], stranger: str,
                                                      devcloud: Layout, demo: Any, admin: Any,
                                                      tmp_path: Path) -> None:
    """Another project's user gets 403 on the copy's objects, and its restores fail, booting nothing."""
    name, project, layout = copy
    lay = StoreLayout(**layout)
    other = openstack.connect(cloud=stranger)
    token = other.session.get_token()
    for container, obj in ((lay.container, lay.manifest(name)), (lay.container, lay.disk(name))):
        with pytest.raises(ClientException) as refused:
            swift_client.get_object(Swift(demo).account_url, token, container, obj)
        assert refused.value.http_status == 403
    for owner in ("", project):
        record = run_flow(tmp_path / "state.db", "restore",
                          {"cloud": stranger, "name": name, "project": owner, "layout": layout,
                           "access": str(devcloud.host_access)})
        assert record.state is RunState.REVERTED
    assert list(admin.compute.servers(all_projects=True, name=f"^{name}$")) == []
