"""The devcloud command line, on an empty home (no services needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from opsflow.devcloud.cli import devcloud


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty devcloud home."""
    monkeypatch.setenv("OPSFLOW_DEVCLOUD_HOME", str(tmp_path))
    return tmp_path


def test_status_of_nothing_lists_every_service_down(home: Path) -> None:
    """With nothing running, status lists each service as down and exits 1."""
    result = CliRunner().invoke(devcloud, ["status"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].split() == ["service", "region", "port", "pid", "health"]
    assert any(line.startswith("keystone") and line.endswith("down") for line in lines)
    names = {line.split()[0] for line in lines[1:]}
    assert {"source-compute", "destination-nova-api", "swift-proxy"} <= names


def test_logs_of_an_unknown_service_says_which_exist(home: Path) -> None:
    """Asking for a log that does not exist names the known ones and exits 1."""
    (home / "state" / "logs").mkdir(parents=True)
    (home / "state" / "logs" / "keystone.log").write_text("hello\n")
    result = CliRunner().invoke(devcloud, ["logs", "glance"])
    assert result.exit_code == 1
    assert "known: keystone" in result.output
    ok = CliRunner().invoke(devcloud, ["logs", "keystone"])
    assert ok.exit_code == 0 and ok.output == "hello\n"
