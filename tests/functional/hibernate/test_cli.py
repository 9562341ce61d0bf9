"""The shortcuts: ``opsflow hibernate --tag`` of a batch (child runs, one failure reverting alone),
``hibernated list -f json`` and ``restore`` of the batch."""

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
from opsflow.engines.runner import Runner
from opsflow.hibernate.swift import Swift
from tests.fixtures import recorded_slots

from .conftest import SOURCE_ADMIN, drop_containers

pytestmark = [pytest.mark.functional, pytest.mark.slow]

def test_batch_by_tag_hibernates_lists_and_restores(devcloud: Layout, demo: Any, admin: Any, tmp_path: Path) -> None:
    """Three servers picked by tag, one with an injected failure: each is a child run of one batch, two
    are hibernated, the third is reverted and still runs; the two are listed from Swift and restored
    by name."""
    tag, container = f"hib-batch-{uuid.uuid4().hex[:6]}", f"hib-cli-{uuid.uuid4().hex[:8]}"
    network = demo.network.find_network(seed.NETWORK_NAME, ignore_missing=False).id
    flavor = demo.compute.find_flavor("m1.tiny", ignore_missing=False).id
    names = sorted(f"{tag}-{n}" for n in range(3))
    servers = [demo.compute.create_server(name=name, image_id=seed.image_id(demo), flavor_id=flavor,
                                          networks=[{"uuid": network}], tags=[tag]) for name in names]
    for server in servers:
        demo.compute.wait_for_server(server, interval=1, wait=180)
    state = f"sqlite:///{tmp_path / 'state.db'}"
    common = ["--cloud", SOURCE_ADMIN, "--container", container]
    try:
        with recorded_slots() as recording:
            done = CliRunner().invoke(main, ["hibernate", "--tag", tag, "--segment-size", "1", "--per-host", "1",
                                             "--per-cloud", "2", "--inject-failure", "hibernate[1].store",
                                             "--state", state, "--json", *common])
        assert done.exit_code == 1, done.output
        # the disk-moving steps held the cloud's bound (2) and their host's (1), never beyond them
        held = recording.peaks()
        assert {b.limit for b in held} == {1, 2} and all(peak <= b.limit for b, peak in held.items()), held
        rows = json.loads(done.output)
        assert [(r["name"], r["state"]) for r in rows] == [(names[0], "succeeded"), (names[1], "reverted"),
                                                         (names[2], "succeeded")]
        assert [s.name for s in demo.compute.servers(tags=tag)] == [names[1]]
        assert demo.compute.get_server(servers[1].id).status == "ACTIVE"
        with Runner(state) as runner:
            assert len({runner.record(r["run"]).parent.run_id for r in rows}) == 1  # child runs of one batch
        listed = CliRunner().invoke(main, ["hibernated", "list", "--project", servers[0].project_id,
                                           "-f", "json", *common])
        assert listed.exit_code == 0, listed.output
        hibernated = [names[0], names[2]]
        assert sorted((r["name"], r["state"]) for r in json.loads(listed.output)) == [
            (n, "hibernated") for n in hibernated]
        assert [name for c in (container, f"{container}_segments") for name in Swift(demo).names(c)
                if name.startswith(f"{names[1]}/")] == []
        back = CliRunner().invoke(main, ["restore", *hibernated, "--project", servers[0].project_id, "--state", state,
                                         "--access", str(devcloud.host_access), *common])
        assert back.exit_code == 0, back.output
        assert sorted(s.name for s in demo.compute.servers(tags=tag)) == names
    finally:
        for server in demo.compute.servers(tags=tag):
            demo.compute.delete_server(server, ignore_missing=True)
            demo.compute.wait_for_delete(server, wait=120)
        drop_containers(Swift(demo), {"container": container})
