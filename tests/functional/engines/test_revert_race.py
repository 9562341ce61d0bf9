"""A retried task failing while another fails: the run is always reverted completely, never left RUNNING.

TaskFlow's parallel engine lost this race in about one run in ten on SQLite ("Flow transition from
'RUNNING' to 'SUSPENDED' is not allowed", completed tasks left un-reverted); the runner finishes
such a revert. Tasks that never started are never reverted.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from opsflow.engines.records import RunState
from opsflow.engines.runner import Runner
from opsflow.flows import loader

pytestmark = [pytest.mark.functional]

RACE = """
name: race
tasks:
  - {name: a, action: core.echo, args: {message: a}}
  - {name: flaky, action: core.fail, args: {message: flaky}, retry: {attempts: 3}, after: [a]}
  - {name: boom, action: core.fail, args: {message: boom}, after: [a]}
  - {name: boom2, action: core.fail, args: {message: boom2}, retry: {attempts: 2}, after: [a]}
  - {name: later, action: core.echo, args: {message: x}, after: [flaky]}
  - {name: later2, action: core.echo, args: {message: x}, after: [boom2]}
"""
RUNS = 30


def test_crossing_failures_always_end_reverted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """30 runs of a flow whose retried and plain tasks fail together: every one ends reverted, all undone."""
    caplog.set_level(logging.INFO, logger="opsflow.engines.atoms")
    definition = loader.load_text(RACE)
    with Runner(f"sqlite:///{tmp_path}/state.db") as runner:
        records = [runner.run(definition, {}) for _ in range(RUNS)]
    assert [r.state for r in records] == [RunState.REVERTED] * RUNS
    for record in records:
        assert {t.path: t.state for t in record.steps if t.state not in ("REVERTED", "PENDING")} == {}
    reverted = {r.message.split(":")[0] for r in caplog.records if r.message.endswith(": reverting")}
    assert "later" not in reverted and "later2" not in reverted  # they never started
