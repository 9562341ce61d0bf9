"""One server moved in image mode: snapshot at the source, streamed Glance to Glance, its twin rebuilt from it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opsflow import clouds
from opsflow.devcloud.layout import Layout
from opsflow.engines.records import RunState
from opsflow.tasks.compute import SOURCE_KEY, TAG_KEY

from .harness import (DESTINATION, SOURCE, Source, disk_of, fresh_source, prefix_sha256,
                      run_forklift)

pytestmark = pytest.mark.functional


@pytest.fixture
def source(cloud: Layout) -> Iterator[Source]:
    """A fresh source server; it and its twin are deleted afterwards."""
    with fresh_source("image", 71) as made:
        yield made


def _properties(conn: Any, server_id: str) -> dict[str, Any]:
    server = conn.compute.get_server(server_id)
    ports = list(conn.network.ports(device_id=server_id))
    return {
        "name": server.name,
        "flavor": server.flavor["original_name"],
        "key_name": server.key_name,
        "security_groups": sorted(g["name"] for g in server.security_groups or []),
        "metadata": {k: v for k, v in server.metadata.items() if k not in (TAG_KEY, SOURCE_KEY)},
        "tags": sorted(t for t in server.tags if not t.startswith("opsflow-")),
        "availability_zone": server.availability_zone,
        "project_id": server.project_id,
        "user_id": server.user_id,
        "networks": sorted(conn.network.get_network(p.network_id).name for p in ports),
        "fixed_ips": sorted(ip["ip_address"] for p in ports for ip in p.fixed_ips),
    }


def test_image_mode_moves_the_server_with_its_properties_and_bytes(cloud: Layout, source: Source,
                                                                     tmp_path: Path) -> None:
    """The twin has the source's properties and fixed IP, runs with its port bound, and its disk starts
    with the source disk's exact bytes; the source is left stopped."""
    src, dst = clouds.connect(SOURCE), clouds.connect(DESTINATION)
    before = _properties(src, source.id)
    source_disk = disk_of(cloud, SOURCE, source.id)
    size = source_disk.stat().st_size

    record = run_forklift(tmp_path, source.name, mode="image")

    assert record.state is RunState.SUCCEEDED, [t.error for t in record.tasks if t.error]
    results = {task.path: task.result for task in record.tasks}
    twin = results["create"]["id"]
    assert _properties(dst, twin) == before
    assert dst.compute.get_server(twin).status == "ACTIVE"
    assert all(p.status == "ACTIVE" for p in dst.network.ports(device_id=twin))
    assert src.compute.get_server(source.id).status == "SHUTOFF"
    assert prefix_sha256(disk_of(cloud, DESTINATION, twin), size) == prefix_sha256(source_disk, size)
    assert results["copy"]["bytes_total"] == size
    assert not [i for i in src.image.images(owner=src.current_project_id) if i.name.startswith("opsflow-")]
