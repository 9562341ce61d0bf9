"""A :class:`Cluster` of real conductor processes on a fresh ZooKeeper chroot per test."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.conductor.harness import Cluster


@pytest.fixture
def cluster(tmp_path: Path, zookeeper_hosts: str, zk_chroot: str) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path, f"{zookeeper_hosts}{zk_chroot}")
    try:
        yield cluster
    finally:
        cluster.close()
