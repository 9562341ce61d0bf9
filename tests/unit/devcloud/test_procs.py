"""Process bookkeeping of the simulated cloud, and how a failed start is reported."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from opsflow.devcloud import procs
from opsflow.devcloud.errors import BringUpFailed


def test_start_stop_and_pid_reuse_guard(tmp_path: Path) -> None:
    """A started process is found by name, stops on request, and a stale pid file finds nothing."""
    proc = procs.Proc(name="sleeper", region="", argv=[sys.executable, "-c", "import time; time.sleep(60)"])
    pid = procs.start(proc, tmp_path / "run", tmp_path / "logs")
    assert procs.alive_pid(tmp_path / "run", "sleeper") == pid
    assert procs.stop(tmp_path / "run", "sleeper")
    assert procs.alive_pid(tmp_path / "run", "sleeper") is None
    (tmp_path / "run" / "sleeper.pid").write_text(f"{pid} 1\n")
    assert procs.alive_pid(tmp_path / "run", "sleeper") is None


def test_a_service_that_dies_is_named_with_its_log(tmp_path: Path) -> None:
    """When a service exits during start, the error names it, quotes its log and gives the path."""
    argv = [sys.executable, "-c", "import sys; print('cannot bind 127.0.0.1:19000'); sys.exit(3)"]
    proc = procs.Proc(name="keystone", region="", argv=argv, health_url="http://127.0.0.1:9/")
    procs.start(proc, tmp_path / "run", tmp_path / "logs")
    try:
        with pytest.raises(BringUpFailed) as info:
            procs.wait_healthy(proc, tmp_path / "run", tmp_path / "logs")
    finally:
        procs.stop(tmp_path / "run", "keystone")
    message = str(info.value)
    assert message.startswith("devcloud: keystone did not come up: the process exited")
    assert "cannot bind 127.0.0.1:19000" in message
    assert str(tmp_path / "logs" / "keystone.log") in message
    assert info.value.service == "keystone"


def test_a_service_that_never_answers_times_out_with_its_log(tmp_path: Path) -> None:
    """A service alive but not answering within its timeout is reported with the URL it missed."""
    argv = [sys.executable, "-c", "import time; time.sleep(30)"]
    proc = procs.Proc(name="glance", region="source", argv=argv, health_url="http://127.0.0.1:9/",
                      timeout=1.0)
    procs.start(proc, tmp_path / "run", tmp_path / "logs")
    try:
        with pytest.raises(BringUpFailed, match=r"glance did not come up: http://127.0.0.1:9/ did not"):
            procs.wait_healthy(proc, tmp_path / "run", tmp_path / "logs")
    finally:
        procs.stop(tmp_path / "run", "glance")
