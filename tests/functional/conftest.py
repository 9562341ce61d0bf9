"""Fixtures shared by every functional suite.

``devcloud``: the simulated cloud (``opsflow devcloud up``), brought up once per test session and
shared by every suite that asks for it (forklift, hibernate, auth, ...), because a bring-up from
nothing costs about a minute. It is quick when the cloud already runs with the same configuration.
``$OPSFLOW_DEVCLOUD_HOME`` and ``$OPSFLOW_DEVCLOUD_PORT_BASE`` choose which cloud (see
``docs/devcloud.md``).

``cluster``: real conductor processes on a fresh ZooKeeper chroot per test (the conductor, forklift
and reclaim suites), stopped afterwards.

``state_url``: a fresh store for a test run on both backends, an SQLite file and a ZooKeeper chroot;
a module that needs other ZooKeeper URL options overrides ``zk_options``.

A failing session ends with what CI's output alone cannot tell: whether the wall clock stepped
while it ran, and the last errors each of the simulated cloud's services logged.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsflow.devcloud import bringup, configs
from opsflow.devcloud.layout import Layout
from tests.functional.conductor.harness import Cluster

#: The wall clock minus the monotonic one when the session began: another value later means a step.
_CLOCK_OFFSET = time.time() - time.monotonic()
#: Error lines shown per service log, and how much of its end is read for them.
_ERRORS_PER_LOG, _LOG_TAIL_BYTES = 3, 512 * 1024


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


@pytest.fixture
def zk_options() -> str:
    """URL options of ``state_url``'s ZooKeeper store: a short session, so a killed owner's lease lapses soon."""
    return "timeout=4"


@pytest.fixture(params=["sqlite", "zookeeper"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path, zk_options: str) -> str:
    """The URL of a fresh store: an SQLite file, or a ZooKeeper chroot of its own (with ``zk_options``)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/state.db"
    hosts = request.getfixturevalue("zookeeper_hosts")
    chroot = request.getfixturevalue("zk_chroot")
    return f"zookeeper://{hosts}{chroot}/state" + (f"?{zk_options}" if zk_options else "")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int) -> None:
    """After a failing session: a step of the wall clock, and each cloud service's last logged errors."""
    if exitstatus == 0:
        return
    stepped = time.time() - time.monotonic() - _CLOCK_OFFSET
    if abs(stepped) > 1.0:
        terminalreporter.write_line(f"the wall clock stepped by {stepped:+.1f} s during this session")
    logs = Layout.default().logs
    for log in sorted(logs.glob("*.log")) if logs.is_dir() else []:
        errors = [line for line in _tail(log) if " ERROR " in line or " CRITICAL " in line][-_ERRORS_PER_LOG:]
        for line in errors:
            terminalreporter.write_line(f"{log.name}: {line[:300]}")


def _tail(log: Path) -> list[str]:
    with log.open("rb") as f:
        f.seek(max(0, log.stat().st_size - _LOG_TAIL_BYTES))
        return f.read().decode(errors="replace").splitlines()
