"""One server moved in each disk-copy mode: cold (stopped, whole disk over SSH) and warm (copied while
running, then only the changed blocks)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from opsflow import clouds
from opsflow.devcloud.layout import Layout
from opsflow.engines.records import RunState
from opsflow.plugins.nova import controls, disks

from .harness import (DESTINATION, SOURCE, Source, admin, disk_of, fresh_source, resume,
                      run_forklift)

pytestmark = pytest.mark.functional


@pytest.fixture
def source(cloud: Layout, monkeypatch: pytest.MonkeyPatch) -> Iterator[Source]:
    """A fresh source server, with the devcloud's host-access file in force; deleted with its twin afterwards."""
    monkeypatch.setenv("OPSFLOW_HOST_ACCESS", str(cloud.host_access))
    with fresh_source("disk", 73) as made:
        yield made


@pytest.mark.parametrize("mode", ["cold", "warm"])
def test_disk_mode_moves_the_disk_bytes_exactly(cloud: Layout, source: Source, tmp_path: Path, mode: str) -> None:
    """The twin's disk is byte for byte the source's (checksummed on both hosts); warm mode sends less
    after the stop than the whole disk, and the twin runs with its fixed IP."""
    if mode == "warm":
        # stop before the source does, let its guest write 5 % of the blocks, then go on: the delta
        # pass after the stop must carry exactly what changed since the pre-copy
        paused = run_forklift(tmp_path, source.id, mode=mode, inject="stop_source:before", pause=True)
        assert paused.state is RunState.PAUSED, [(t.path, t.error) for t in paused.tasks if t.error]
        host = admin(SOURCE).compute.get_server(source.id).compute_host
        dirtied = controls.dirty_blocks(cloud.region("source").disk_dir, host, source.id, 0.05)
        record = resume(tmp_path, paused.run_id)
    else:
        record = run_forklift(tmp_path, source.id, mode=mode)

    assert record.state is RunState.SUCCEEDED, [(t.path, t.error) for t in record.tasks if t.error]
    results = {task.path: task.result for task in record.tasks}
    twin = results["create"]["id"]
    assert disks.file_sha256(disk_of(cloud, DESTINATION, twin)) == disks.file_sha256(disk_of(cloud, SOURCE, source.id))
    assert results["verify_disk"]["verified"] is True
    assert clouds.connect(DESTINATION).compute.get_server(twin).status == "ACTIVE"
    assert results["verify"]["fixed_ips"] == results["create"]["fixed_ips"]
    assert clouds.connect(SOURCE).compute.get_server(source.id).status == "SHUTOFF"
    if mode == "warm":
        assert results["precopy"]["bytes_sent"] > 0
        assert results["copy"]["blocks_sent"] == dirtied
        assert 0 < results["copy"]["bytes_sent"] < results["copy"]["bytes_total"] / 4
