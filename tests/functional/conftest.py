"""Fixtures shared by every functional suite.

``devcloud``: the simulated cloud (``opsflow devcloud up``), brought up once per test session and
shared by every suite that asks for it (forklift, hibernate, auth, ...), because a bring-up from
nothing costs about a minute. It is quick when the cloud already runs with the same configuration.
``$OPSFLOW_DEVCLOUD_HOME`` and ``$OPSFLOW_DEVCLOUD_PORT_BASE`` choose which cloud (see
``docs/devcloud.md``).

``cluster``: real conductor processes on a fresh ZooKeeper chroot per test (the conductor, forklift
and reclaim suites), stopped afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from opsflow.devcloud import bringup, configs
from opsflow.devcloud.layout import Layout
from tests.functional.conductor.harness import Cluster


@pytest.fixture(scope="session")
def devcloud() -> Iterator[Layout]:
    """A running simulated cloud; ``OS_CLIENT_CONFIG_FILE`` points at its clouds.yaml."""
    layout = Layout.default()
    bringup.up(layout, configs.SimSettings())
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OS_CLIENT_CONFIG_FILE", str(layout.clouds_yaml))
        yield layout


@pytest.fixture
def cluster(tmp_path: Path, zookeeper_hosts: str, zk_chroot: str) -> Iterator[Cluster]:
    """Conductors started by the test on a ZooKeeper chroot of its own; stopped afterwards."""
    made = Cluster(tmp_path, f"{zookeeper_hosts}{zk_chroot}")
    try:
        yield made
    finally:
        made.close()
