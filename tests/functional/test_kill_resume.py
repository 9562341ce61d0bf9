"""A real `opsflow run` killed with SIGKILL mid-run resumes to completion; no completed task runs again."""

import os
import re
import signal
import subprocess
from pathlib import Path

from opsflow.engines.records import RunState, TaskState
from opsflow.engines.runner import Runner
from tests.fixtures import KILLABLE, OPSFLOW, eventually, executions

STARTED = re.compile(r"run (\S+) started")


def test_sigkill_mid_run_then_resume_runs_each_completed_task_once(tmp_path: Path) -> None:
    """Kill -9 after ten tasks started; resume finishes; completed tasks ran once, in-flight ones at most twice."""
    flow = tmp_path / "killable.yaml"
    flow.write_text(KILLABLE)
    state = f"sqlite:///{tmp_path}/state.db"
    first_log, second_log = tmp_path / "run.log", tmp_path / "resume.log"
    items = ",".join(str(i) for i in range(30))
    with first_log.open("w") as err:
        proc = subprocess.Popen(OPSFLOW + ["-v", "run", str(flow), "-i", f"items={items}", "--state", state],
                                stderr=err, stdout=subprocess.DEVNULL)

    def going() -> bool:
        assert proc.poll() is None, first_log.read_text()
        return sum(executions(first_log).values()) >= 10

    eventually(going, 60, "ten tasks started")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    run_id = STARTED.search(first_log.read_text()).group(1)  # type: ignore[union-attr]

    with Runner(state) as runner:
        at_kill = runner.record(run_id)
    completed = {t.path for t in at_kill.tasks if t.state is TaskState.SUCCESS}
    in_flight = {t.path for t in at_kill.tasks if t.state is TaskState.RUNNING}
    assert at_kill.state is RunState.RUNNING and completed

    with second_log.open("w") as err:
        resumed = subprocess.run(OPSFLOW + ["-v", "resume", run_id, "--state", state], stderr=err,
                                 stdout=subprocess.PIPE, text=True, timeout=120)
    assert resumed.returncode == 0, second_log.read_text()
    assert f"run {run_id} succeeded" in resumed.stdout

    counts = executions(first_log, second_log)
    expected = {"first", "last", *(f"work[{i}]" for i in range(30))}
    assert set(counts) == expected
    assert {path: counts[path] for path in completed if counts[path] != 1} == {}
    assert {path for path, n in counts.items() if n > 1} <= in_flight
    assert max(counts.values()) <= 2
