"""`opsflow revert` of a run killed with tasks in flight undoes those tasks too, and only tasks that started.

The flow's tasks are ``test.marker`` (see ``tests/functional/plugins``): each makes a file tagged
with its run and task, then holds; its revert removes what carries its tag. Killed with -9 while
three of them hold, the run's revert must leave no file behind -- on SQLite, and on ZooKeeper,
whose backend writes a task's RUNNING mark behind: there the worker waits for that write before
the task acts, so the mark is stored even when nothing else would have sent it yet (the write-behind
delay is stretched to 30 s to show it).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from opsflow.engines.records import RunState, TaskState
from opsflow.engines.runner import Runner
from tests.fixtures import OPSFLOW, eventually
from tests.functional.plugins import registered

pytestmark = [pytest.mark.functional]

FLOW = """
name: markers
inputs:
  folder: {type: string}
tasks:
  - name: make
    for_each: [0, 1, 2, 3, 4, 5, 6, 7, 8]
    concurrency: 3
    action: test.marker
    args: {folder: "${inputs.folder}", seconds: 30}
"""


@pytest.fixture
def zk_options() -> str:
    """Writes behind wait 30 s for company: without the worker's wait for its RUNNING mark, none is stored."""
    return "timeout=4&flush_delay=30"


def test_revert_after_kill_undoes_the_tasks_in_flight_and_never_reverts_one_that_never_started(
        tmp_path: Path, state_url: str) -> None:
    """Kill -9 with three tasks holding their files; `revert` exits 0, no file is left, unstarted tasks untouched."""
    flow, folder = tmp_path / "markers.yaml", tmp_path / "made"
    flow.write_text(FLOW)
    folder.mkdir()
    env = registered(tmp_path / "plugins")
    run_log = tmp_path / "run.log"
    with run_log.open("w") as err:
        proc = subprocess.Popen(OPSFLOW + ["-v", "run", str(flow), "-i", f"folder={folder}", "--state", state_url],
                                stderr=err, stdout=subprocess.DEVNULL, env=env)
    try:
        eventually(lambda: len([p for p in folder.iterdir() if "--" in p.name]) >= 3, 60, "three files made")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    run_id = re.search(r"run (\S+) started", run_log.read_text()).group(1)  # type: ignore[union-attr]
    with Runner(state_url) as runner:
        in_flight = {t.path for t in runner.record(run_id).steps if t.state is TaskState.RUNNING}
    assert len(in_flight) == 3

    revert_log = tmp_path / "revert.log"
    with revert_log.open("w") as err:
        reverted = subprocess.run(OPSFLOW + ["-v", "revert", run_id, "--state", state_url], stderr=err,
                                  stdout=subprocess.PIPE, text=True, timeout=120, env=env)
    assert reverted.returncode == 0, revert_log.read_text()
    assert f"run {run_id} reverted" in reverted.stdout
    assert [p.name for p in folder.iterdir() if "--" in p.name] == []
    undone = set(re.findall(r"(make\[\d\]): reverting", revert_log.read_text()))
    assert undone == in_flight  # the in-flight ones, and none that never started
    # The revert ran no action again: executions are those of the killed run alone.
    assert sorted((folder / "executions.log").read_text().split()) == sorted(in_flight)
    with Runner(state_url) as runner:
        assert runner.record(run_id).state is RunState.REVERTED
