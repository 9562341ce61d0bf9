"""The ZooKeeper runner says how to install what is missing instead of failing obscurely."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsflow.errors import BackendUnavailable
from opsflow.services import zookeeper


def test_missing_jars_point_at_the_install_script(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without Debian's jars, starting a server names the missing jar and tools/install-services."""
    missing = tmp_path / "zookeeper.jar"
    monkeypatch.setattr(zookeeper, "ZOOKEEPER_JARS", (missing,))
    with pytest.raises(BackendUnavailable) as raised:
        zookeeper.ZooKeeperServer(tmp_path, 1).start()
    assert str(missing) in str(raised.value)
    assert "tools/install-services" in str(raised.value)


def test_ensemble_ports_come_in_three_runs(tmp_path: Path) -> None:
    """Client, peer and election ports are consecutive runs from the base port."""
    ensemble = zookeeper.Ensemble(tmp_path, size=3, base_port=30000)
    assert ensemble.hosts == "127.0.0.1:30000,127.0.0.1:30001,127.0.0.1:30002"
    assert [(p.peer_port, p.election_port) for p in ensemble.servers[0].peers] == [
        (30003, 30006), (30004, 30007), (30005, 30008),
    ]
