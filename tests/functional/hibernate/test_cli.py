"""The shortcuts: ``opsflow hibernate --tag``, ``hibernated list -f json`` and ``restore`` of a batch."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from opsflow.cli import main
from opsflow.devcloud import seed
from opsflow.devcloud.layout import Layout
from opsflow.hibernate import listing
from opsflow.hibernate.layout import Layout as StoreLayout
from opsflow.hibernate.swift import Swift

from .conftest import SOURCE_ADMIN

pytestmark = [pytest.mark.functional, pytest.mark.slow]


def test_batch_by_tag_hibernates_lists_and_restores(devcloud: Layout, demo: Any, admin: Any, tmp_path: Path) -> None:
    """Two servers picked by tag are hibernated in one command, listed from Swift, and restored by name."""
    tag, container = f"hib-batch-{uuid.uuid4().hex[:6]}", f"hib-cli-{uuid.uuid4().hex[:8]}"
    network = demo.network.find_network(seed.NETWORK_NAME, ignore_missing=False).id
    flavor = demo.compute.find_flavor("m1.tiny", ignore_missing=False).id
    names = sorted(f"{tag}-{n}" for n in range(2))
    servers = [demo.compute.create_server(name=name, image_id=seed.image_id(demo), flavor_id=flavor,
                                          networks=[{"uuid": network}], tags=[tag]) for name in names]
    for server in servers:
        demo.compute.wait_for_server(server, interval=1, wait=180)
    state = f"sqlite:///{tmp_path / 'state.db'}"
    common = ["--cloud", SOURCE_ADMIN, "--container", container]
    try:
        done = CliRunner().invoke(main, ["hibernate", "--tag", tag, "--segment-size", "1", "--per-host", "1",
                                         "--state", state, "--json", *common])
        assert done.exit_code == 0, done.output
        assert sorted(r["name"] for r in json.loads(done.output)) == names
        assert list(demo.compute.servers(tags=tag)) == []
        listed = CliRunner().invoke(main, ["hibernated", "list", "--project", servers[0].project_id,
                                           "-f", "json", *common])
        assert listed.exit_code == 0, listed.output
        rows = json.loads(listed.output)
        assert sorted((r["name"], r["state"]) for r in rows) == [(n, "hibernated") for n in names]
        back = CliRunner().invoke(main, ["restore", *names, "--project", servers[0].project_id, "--state", state,
                                         "--access", str(devcloud.host_access), *common])
        assert back.exit_code == 0, back.output
        assert sorted(s.name for s in demo.compute.servers(tags=tag)) == names
    finally:
        for server in demo.compute.servers(tags=tag):
            demo.compute.delete_server(server, ignore_missing=True)
            demo.compute.wait_for_delete(server, wait=120)
        for name in names:
            listing.delete(Swift(demo), StoreLayout(container=container), name)
