"""Fixtures of the disk-transfer tests: the devcloud's host-access file, and disks on its sshd hosts.

The disks of ``disk`` live in the simulator driver's directory under a hypervisor name of their
own (``sim-sou-t…``), so the region's real sshd and the real host-access rules serve them while no
simulated hypervisor ever sees them.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from opsflow.devcloud.layout import Layout
from opsflow.transfer import access, stream

#: Make a disk: (region, data at offsets, logical size) -> the disk's end.
MakeDisk = Callable[[str, dict[int, bytes], int], stream.DiskEnd]


@pytest.fixture(scope="session")
def hosts(devcloud: Layout) -> access.HostAccess:
    """The host-access file the devcloud wrote for its sshds."""
    return access.load(str(devcloud.host_access))


@pytest.fixture
def disk(devcloud: Layout, hosts: access.HostAccess) -> Iterator[MakeDisk]:
    """A factory of sparse disk files on a region's sshd host; removed after the test."""
    made: list[Path] = []

    def make(region: str, data: dict[int, bytes], size: int) -> stream.DiskEnd:
        layout = devcloud.region(region)
        hypervisor = f"{layout.host_prefix}t{uuid.uuid4().hex[:8]}"
        directory = layout.disk_dir / hypervisor
        directory.mkdir(parents=True)
        made.append(directory)
        path = directory / f"{uuid.uuid4()}.disk"
        with open(path, "wb") as out:
            for offset, chunk in data.items():
                out.seek(offset)
                out.write(chunk)
            out.truncate(size)
        host = hosts.cloud(f"devcloud-{region}").host(hypervisor)
        return stream.DiskEnd(host, str(path))

    yield make
    for directory in made:
        shutil.rmtree(directory, ignore_errors=True)


def random_bytes(length: int) -> bytes:
    """Incompressible data."""
    return os.urandom(length)
