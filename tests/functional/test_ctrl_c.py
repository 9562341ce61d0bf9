"""Ctrl-C on a real `opsflow run`: the first suspends cleanly, a second abandons; resume then runs nothing twice."""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path

import pytest

from opsflow.engines.records import RunState, TaskState
from opsflow.engines.runner import Runner
from tests.fixtures import KILLABLE, OPSFLOW, eventually, executions

pytestmark = [pytest.mark.functional]

ITEMS = [str(i) for i in range(12)]
EXPECTED = {"first", "last", *(f"work[{i}]" for i in range(len(ITEMS)))}
FLOW = KILLABLE.replace("seconds: 0.2", "seconds: 1.0")


def _run(tmp_path: Path, state: str) -> tuple[subprocess.Popen[str], Path]:
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)
    log = tmp_path / "run.log"
    with log.open("w") as err:
        proc = subprocess.Popen(OPSFLOW + ["-v", "run", str(flow), "-i", f"items={','.join(ITEMS)}", "--state", state],
                                stderr=err, stdout=subprocess.PIPE, text=True)
    eventually(lambda: sum(executions(log).values()) >= 4, 60, "four tasks started")
    return proc, log


def _resume(tmp_path: Path, state: str, run_id: str) -> Path:
    log = tmp_path / "resume.log"
    with log.open("w") as err:
        resumed = subprocess.run(OPSFLOW + ["-v", "resume", run_id, "--state", state], stderr=err,
                                 stdout=subprocess.PIPE, text=True, timeout=120)
    assert resumed.returncode == 0, log.read_text()
    return log


def test_ctrl_c_suspends_records_the_tasks_in_flight_and_resume_runs_nothing_twice(tmp_path: Path) -> None:
    """One SIGINT: exit 130 saying `opsflow resume ID`; the run is SUSPENDED, nothing RUNNING; resume finishes it."""
    state = f"sqlite:///{tmp_path}/state.db"
    proc, log = _run(tmp_path, state)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, log.read_text()
    run_id = re.search(r"run (\S+) started", log.read_text()).group(1)  # type: ignore[union-attr]
    assert f"`opsflow resume {run_id}`" in log.read_text()
    assert f"run {run_id} suspended" in out
    with Runner(state) as runner:
        stopped = runner.record(run_id)
    assert stopped.state is RunState.SUSPENDED
    assert not [t.path for t in stopped.steps if t.state is TaskState.RUNNING]  # in flight at the signal: finished, recorded

    resume_log = _resume(tmp_path, state, run_id)
    counts = executions(log, resume_log)
    assert set(counts) == EXPECTED and max(counts.values()) == 1, counts


def test_second_ctrl_c_abandons_the_tasks_in_flight_and_resume_reruns_only_those(tmp_path: Path) -> None:
    """Two SIGINTs: exit 130 at once; resume re-runs at most the tasks that were in flight."""
    state = f"sqlite:///{tmp_path}/state.db"
    proc, log = _run(tmp_path, state)
    proc.send_signal(signal.SIGINT)
    eventually(lambda: "Ctrl-C again abandons them" in log.read_text(), 30, "the first interrupt acknowledged")
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode == 130, log.read_text()
    assert "abandoning the tasks in flight" in log.read_text()
    run_id = re.search(r"run (\S+) started", log.read_text()).group(1)  # type: ignore[union-attr]
    with Runner(state) as runner:
        at_stop = runner.record(run_id)
    completed = {t.path for t in at_stop.steps if t.state is TaskState.SUCCESS}
    in_flight = {t.path for t in at_stop.steps if t.state is TaskState.RUNNING}

    resume_log = _resume(tmp_path, state, run_id)
    counts = executions(log, resume_log)
    assert set(counts) == EXPECTED
    assert {path: counts[path] for path in completed if counts[path] != 1} == {}
    assert {path for path, n in counts.items() if n > 1} <= in_flight
