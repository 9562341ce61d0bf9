"""A real `opsflow run` of a batch of child runs killed with SIGKILL mid-batch: resume starts no child twice."""

import collections
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from opsflow.engines.records import RunState
from opsflow.engines.runner import Runner
from tests import child_flows

LEAF = """
name: leaf
inputs: {n: {type: integer}}
tasks:
  - {name: start, action: core.echo, args: {message: "start-${inputs.n}"}}
  - {name: work, action: core.sleep, args: {seconds: 0.1}, after: [start]}
  - {name: mark, action: core.echo, args: {message: "mark-${inputs.n}"}, after: [work]}
outputs: {mark: "${tasks.mark}"}
"""
COUNT = 24
ECHOED = re.compile(r"opsflow\.tasks\.core: (?:start|mark): ((?:start|mark)-\d+)")
STARTED = re.compile(r"run (\S+) started")
OPSFLOW = [sys.executable, "-c", "from opsflow.cli import run_main; run_main()"]


def _echoes(*logs: Path) -> collections.Counter[str]:
    return collections.Counter(m.group(1) for log in logs for m in ECHOED.finditer(log.read_text()))


def test_sigkill_mid_batch_then_resume_starts_no_child_twice_and_gathers_all(tmp_path: Path) -> None:
    """Kill -9 after eight children started; resume: ended children do not run again, the rest finish."""
    child_flows.write(tmp_path, LEAF, child_flows.batch(concurrency=4))
    state = f"sqlite:///{tmp_path}/state.db"
    first_log, second_log = tmp_path / "run.log", tmp_path / "resume.log"
    with first_log.open("w") as err:
        proc = subprocess.Popen(OPSFLOW + ["-v", "run", str(tmp_path / "batch.yaml"), "-i", f"items={list(range(COUNT))}",
                                           "--state", state], stderr=err, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while sum(name.startswith("start") for name in _echoes(first_log)) < 8:
        assert proc.poll() is None, first_log.read_text()
        assert time.monotonic() < deadline, "the batch never got going"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    parent = STARTED.search(first_log.read_text()).group(1)  # type: ignore[union-attr]

    with Runner(state) as runner:
        children = [r for r in runner.runs() if r.parent is not None and r.parent.run_id == parent]
        ended_at_kill = {r.parent.index for r in children if r.state is RunState.SUCCEEDED}  # type: ignore[union-attr]
        assert len(children) == COUNT and runner.record(parent).state is RunState.WAITING  # holding nothing

    with second_log.open("w") as err:
        resumed = subprocess.run(OPSFLOW + ["-v", "resume", parent, "--state", state], stderr=err,
                                 stdout=subprocess.PIPE, text=True, timeout=120)
    assert resumed.returncode == 0, second_log.read_text()

    with Runner(state) as runner:
        record = runner.record(parent)
        stored = [r for r in runner.runs() if r.parent is not None and r.parent.run_id == parent]
    assert record.state is RunState.SUCCEEDED and len(stored) == COUNT
    result = {t.path: t.result for t in record.tasks}["each"]
    assert [entry["outputs"] for entry in result] == [{"mark": f"mark-{n}"} for n in range(COUNT)]
    counts = _echoes(first_log, second_log)
    assert {f"start-{n}" for n in range(COUNT)} | {f"mark-{n}" for n in range(COUNT)} == set(counts)
    assert {n for n in ended_at_kill if counts[f"start-{n}"] != 1 or counts[f"mark-{n}"] != 1} == set()
    # At-least-once: only a task in flight at the kill (at most one per lane) ran again.
    assert len([name for name, n in counts.items() if n > 1]) <= 4 and max(counts.values()) <= 2
