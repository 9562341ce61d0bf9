"""A signal is a fact of its own: sent at any point of a run's life, it is honoured by the wait it is for.

Each test runs on SQLite and on a real ZooKeeper. Signals are sent through a second ``Runner`` on
the same store, as another process would. The distributed case (a conductor holding the job) is in
``tests/functional/conductor/test_signals.py``.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator

import pytest

from opsflow.engines import signals
from opsflow.engines.records import RunRecord, RunState
from opsflow.engines.runner import Runner
from opsflow.flows import loader
from tests.fixtures import eventually

pytestmark = pytest.mark.functional

#: Ten quick steps (ten state saves, and more) before a wait for ``go`` that would last a day.
STEPS_THEN_WAIT = loader.load_text("""
name: steps-then-wait
tasks:
  - {name: s0, action: core.echo, args: {message: "0"}}
""" + "".join(f"""  - {{name: s{i}, action: core.echo, args: {{message: "{i}"}}, after: [s{i - 1}]}}
""" for i in range(1, 10)) + """  - {name: approve, action: core.wait, args: {seconds: 86400, signal: go}, after: [s9]}
  - {name: done, action: core.echo, args: {message: done}, after: [approve]}
""")

#: A task that takes a moment, then the wait.
SLOW_THEN_WAIT = loader.load_text("""
name: slow-then-wait
tasks:
  - {name: slow, action: core.sleep, args: {seconds: 1.5}}
  - {name: approve, action: core.wait, args: {seconds: 86400, signal: go}, after: [slow]}
""")


class _OnTask:
    """An observer that calls ``action`` once, when ``path`` enters ``state``."""

    def __init__(self, path: str, state: str, action: Callable[[str], None]) -> None:
        self.path, self.state, self.action = path, state, action
        self.run_id = ""
        self.fired = threading.Event()

    def started(self, run_id: str, tasks: int) -> None:
        self.run_id = run_id

    def task(self, path: str, state: str) -> None:
        if path == self.path and state == self.state and not self.fired.is_set():
            self.fired.set()
            self.action(self.run_id)


@pytest.fixture
def zk_options() -> str:
    """None: this suite runs on the backend's default session timeout (10 s)."""
    return ""


@pytest.fixture
def sender(state_url: str) -> Iterator[Runner]:
    """Another runner on the same store: the operator's `opsflow signal`."""
    with Runner(state_url) as runner:
        yield runner


def _ended_by_signal(record: RunRecord) -> bool:
    results = {task.path: task.result for task in record.steps}
    return record.state is RunState.SUCCEEDED and results["approve"] == {"ended_by": "signal", "signal": "go"}


def test_signal_sent_before_the_run_starts(state_url: str, sender: Runner) -> None:
    """A run created but not started yet keeps a signal for the wait it reaches later."""
    with Runner(state_url) as runner:
        run_id = runner.create(SLOW_THEN_WAIT, {})
        sender.signal(run_id, "go")
        assert _ended_by_signal(runner.resume(run_id, hold_waits=False))


def test_signal_sent_while_a_task_runs(state_url: str, sender: Runner) -> None:
    """A signal sent while an earlier task is running is there when the run reaches the wait."""
    observer = _OnTask("slow", "RUNNING", lambda run_id: sender.signal(run_id, "go"))
    with Runner(state_url, observer=observer) as runner:
        record = runner.run(SLOW_THEN_WAIT, {}, hold_waits=False)
    assert observer.fired.is_set() and _ended_by_signal(record)


def test_signal_sent_between_steps_survives_the_state_saves_around_it(state_url: str, sender: Runner) -> None:
    """Signals sent just after a step, or at random moments of a run, are never erased by a state save.

    The old read-modify-write of the run's metadata lost the first kind every time: the wait's own
    metadata save wrote the engine's older copy back.
    """
    observer = _OnTask("s4", "SUCCESS", lambda run_id: sender.signal(run_id, "go"))
    with Runner(state_url, observer=observer) as runner:
        assert _ended_by_signal(runner.run(STEPS_THEN_WAIT, {}, hold_waits=False))

    rng = random.Random(8)
    with Runner(state_url) as runner:
        for trial in range(12):
            run_id = runner.create(STEPS_THEN_WAIT, {})
            delay = rng.uniform(0.0, 0.15)
            timer = threading.Timer(delay, sender.signal, (run_id, "go"))
            timer.start()
            record = runner.resume(run_id, hold_waits=False)
            timer.join()
            if record.state is RunState.WAITING:  # sent after the wait looked: the next look sees it
                record = runner.resume(run_id, hold_waits=False)
            assert _ended_by_signal(record), f"trial {trial} (signal after {delay:.3f} s): {record.state}"
            assert [s.name for s in signals.of(runner._backend, run_id)] == ["go"]


def test_signal_sent_during_a_held_durable_wait(state_url: str, sender: Runner) -> None:
    """A run held at its wait in this process (`opsflow run`) wakes when the signal arrives."""
    outcome: list[RunRecord] = []
    with Runner(state_url) as runner:
        run_id = runner.create(SLOW_THEN_WAIT, {})
        holder = threading.Thread(target=lambda: outcome.append(runner.resume(run_id, hold_waits=True)))
        holder.start()
        eventually(lambda: sender.record(run_id).state is RunState.WAITING, 60, "the run waiting")
        sender.signal(run_id, "go")
        holder.join(60)
    assert not holder.is_alive() and _ended_by_signal(outcome[0])


def test_signal_sent_while_the_run_is_suspended(state_url: str, sender: Runner) -> None:
    """A run suspended mid-task (a conductor stopping) finds the signal when it is resumed."""
    with Runner(state_url) as runner:
        observer = _OnTask("slow", "RUNNING", lambda run_id: runner.suspend(run_id))
        runner._observer = observer
        record = runner.run(SLOW_THEN_WAIT, {}, hold_waits=False)
        assert record.state is RunState.SUSPENDED
        sender.signal(record.run_id, "go")
        runner._observer = None
        assert _ended_by_signal(runner.resume(record.run_id, hold_waits=False))
