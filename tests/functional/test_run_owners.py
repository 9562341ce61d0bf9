"""One owner per run: real `opsflow` processes racing for the same run never both run its tasks.

Executions are counted from the processes' -v logs (each task logs ``executing`` as it starts).
Both backends: SQLite (the lease row checked in every write) and ZooKeeper (a ``check`` of the
lease node in every write).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from opsflow.engines.records import RunState, TaskState
from opsflow.engines.runner import Runner
from opsflow.flows import loader
from tests.fixtures import KILLABLE, OPSFLOW, eventually, executions

pytestmark = [pytest.mark.functional]

#: Long enough (6 rounds of 2 s) for a second `opsflow` process to start while the first runs, on a
#: loaded machine too (starting one takes 2-5 s there).
FLOW = KILLABLE.replace("seconds: 0.2", "seconds: 2.0")
ITEMS = [str(i) for i in range(18)]
#: The same work behind a wait for the signal ``go``: `opsflow run` holds the wait (and the run's
#: lease) in its process until the test signals it.
GATED = FLOW.replace("    after: [first]", "    after: [gate]").replace(
    "tasks:\n", "tasks:\n  - {name: gate, action: core.wait, args: {seconds: 600, signal: go}, after: [first]}\n", 1)
EXPECTED = {"first", "last", *(f"work[{i}]" for i in range(len(ITEMS)))}
OWNED = re.compile(r"is owned by \d+@\S+, which is alive")


def _created(state_url: str) -> str:
    with Runner(state_url) as runner:
        return runner.create(loader.load_text(FLOW), {"items": ITEMS})


def _start(tmp_path: Path, name: str, state_url: str, *argv: str) -> tuple[subprocess.Popen[str], Path]:
    log = tmp_path / f"{name}.log"
    with log.open("w") as err:
        proc = subprocess.Popen(OPSFLOW + ["-v", *argv, "--state", state_url], stderr=err,
                                stdout=subprocess.PIPE, text=True)
    return proc, log


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=120)
    return proc.returncode, out


def test_two_resumes_at_once_one_runs_the_other_is_refused(tmp_path: Path, state_url: str) -> None:
    """Two `resume` of one run started together: one runs every task once, the other exits 2 naming the owner."""
    run_id = _created(state_url)
    procs = [_start(tmp_path, f"resume{n}", state_url, "resume", run_id) for n in (1, 2)]
    outcomes = [_finish(proc) for proc, _log in procs]
    logs = [log.read_text() for _proc, log in procs]
    assert sorted(rc for rc, _out in outcomes) == [0, 2], logs
    loser = logs[[rc for rc, _ in outcomes].index(2)]
    assert OWNED.search(loser) or "nothing to resume" in loser, loser
    counts = executions(*(log for _proc, log in procs))
    assert set(counts) == EXPECTED and max(counts.values()) == 1, counts


@pytest.mark.slow  # about 100 s per backend: the run holds a wait, then does 12 s of work
def test_resume_during_a_live_run_is_refused_and_nothing_runs_twice(tmp_path: Path, state_url: str) -> None:
    """`resume` while the original `run` is alive (holding its wait) exits 2 naming its pid; the run then finishes,
    each task once."""
    flow = tmp_path / "gated.yaml"
    flow.write_text(GATED)
    first, first_log = _start(tmp_path, "run", state_url, "run", str(flow), "-i", f"items={','.join(ITEMS)}")
    run_id = eventually(lambda: (m := re.search(r"run (\S+) started", first_log.read_text())) and m.group(1), 60,
                        "the run started")
    with Runner(state_url) as runner:
        eventually(lambda: runner.record(run_id).waits, 60, "the run holding its wait")
    second, second_log = _start(tmp_path, "resume", state_url, "resume", run_id)
    rc, _out = _finish(second)
    assert rc == 2, second_log.read_text()
    assert f"is owned by {first.pid}@" in second_log.read_text()
    signalled = subprocess.run(OPSFLOW + ["signal", run_id, "go", "--state", state_url], capture_output=True,
                               text=True, timeout=60)
    assert signalled.returncode == 0, signalled.stderr
    assert _finish(first)[0] == 0, first_log.read_text()
    counts = executions(first_log, second_log)
    assert set(counts) == EXPECTED | {"gate"} and max(counts.values()) <= 2, counts
    assert {path: n for path, n in counts.items() if n > 1 and path != "gate"} == {}  # the wait re-checks itself


def test_resume_and_revert_together_one_is_refused(tmp_path: Path, state_url: str) -> None:
    """`resume` and `revert` of one run at once: one is refused (exit 2); the record matches the one that ran."""
    run_id = _created(state_url)
    resume, resume_log = _start(tmp_path, "resume", state_url, "resume", run_id)
    revert, revert_log = _start(tmp_path, "revert", state_url, "revert", run_id)
    (resume_rc, _), (revert_rc, _) = _finish(resume), _finish(revert)
    assert sorted([resume_rc, revert_rc]) == [0, 2], (resume_log.read_text(), revert_log.read_text())
    with Runner(state_url) as runner:
        record = runner.record(run_id)
    counts = executions(resume_log, revert_log)
    assert max(counts.values(), default=1) == 1, counts
    if resume_rc == 0:
        # The revert came second: refused while the resume ran, or found nothing left to undo after it.
        assert record.state is RunState.SUCCEEDED and set(counts) == EXPECTED
    else:
        assert record.state is RunState.REVERTED
        assert all(task.state in (TaskState.REVERTED, TaskState.PENDING) for task in record.steps), record.steps
