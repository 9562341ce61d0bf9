"""Running flows: revert order, pause/resume/revert, retries, timeouts, fan-out bounds, waits."""

import logging
import sys
import threading
import time
import traceback

import pytest

from opsflow.engines.atoms import FailurePoint
from opsflow.engines.persistence import impl_sqlite
from opsflow.engines.records import RunState
from opsflow.engines.runner import Runner
from opsflow.errors import InvalidState, LeaseLost
from opsflow.flows import loader
from tests.fixtures import FLAKY, chain


def test_chain_runs_in_dependency_order(runner, journal) -> None:
    """Each task runs once, after what it references."""
    record = runner.run(chain(), {})
    assert record.state is RunState.SUCCEEDED
    assert journal.executed == ["a", "b", "c", "d"]
    assert {t.path: t.result for t in record.tasks}["d"] == "abcd"


def test_task_timing_is_stored_by_the_write_of_its_end_not_one_of_its_own(runner, tmp_path, monkeypatch) -> None:
    """Start and end of each task, failed ones too, reach the store with its SUCCESS or FAILURE write."""
    writes: list[tuple[str, str, bool]] = []
    update = impl_sqlite.Connection.update_atom_details

    def spy(self, atom_detail):  # the real write, seen on its way (no mock: SQLite stores it)
        writes.append((atom_detail.name, atom_detail.state, "timing" in atom_detail.meta))
        return update(self, atom_detail)

    monkeypatch.setattr(impl_sqlite.Connection, "update_atom_details", spy)
    record = runner.run(chain(), {}, failure_points=(FailurePoint("c", "after"),))
    timed = {name: state for name, state, timing in reversed(writes) if timing}  # each atom's first such write
    assert timed == {"a": "SUCCESS", "b": "SUCCESS", "c": "FAILURE"}
    with Runner(f"sqlite:///{tmp_path}/state.db") as fresh:
        stored = {t.path: (t.started, t.finished) for t in fresh.record(record.run_id).tasks}
    assert all(None not in stored[path] for path in "abc") and stored["d"] == (None, None)


@pytest.mark.parametrize("step", ["a", "b", "c", "d"])
def test_failure_after_each_step_reverts_exactly_the_completed_steps_in_reverse(runner, journal, step) -> None:
    """A failure injected after step X acted undoes X and everything before it, newest first."""
    order = ["a", "b", "c", "d"]
    record = runner.run(chain(), {}, failure_points=(FailurePoint(step, "after"),))
    assert record.state is RunState.REVERTED
    done = order[: order.index(step) + 1]
    assert journal.executed == done
    assert journal.reverted == list(reversed(done))


@pytest.mark.parametrize("step", ["a", "b", "c", "d"])
def test_failure_before_each_step_reverts_only_the_steps_before_it(runner, journal, step) -> None:
    """A failure injected before step X acted leaves X nothing to undo."""
    order = ["a", "b", "c", "d"]
    record = runner.run(chain(), {}, failure_points=(FailurePoint(step, "before"),))
    assert record.state is RunState.REVERTED
    done = order[: order.index(step)]
    assert journal.executed == done
    assert journal.reverted == list(reversed(done))


def test_parallel_branches_revert_in_reverse_dependency_order(runner, journal) -> None:
    """In a diamond, the join's dependencies are reverted only after everything that used them."""
    definition = loader.load_text("""
name: diamond
tasks:
  - {name: top, action: core.echo, args: {message: t}}
  - {name: left, action: core.echo, args: {message: "${tasks.top}"}}
  - {name: right, action: core.echo, args: {message: "${tasks.top}"}}
  - {name: join, action: core.echo, args: {message: "${tasks.left}${tasks.right}"}}
""")
    runner.run(definition, {}, failure_points=(FailurePoint("join"),))
    reverted = journal.reverted
    assert reverted[0] == "join" and reverted[-1] == "top"
    assert sorted(reverted[1:3]) == ["left", "right"]


def test_pause_then_resume_finishes_without_rerunning_completed_tasks(runner, journal) -> None:
    """on_failure: pause stops at the failed task; resume runs it again and continues."""
    definition = loader.load_text(FLAKY)
    record = runner.run(definition, {})
    assert record.state is RunState.PAUSED
    assert journal.executed == ["a", "b"] and journal.reverted == []
    record = runner.resume(record.run_id)
    assert record.state is RunState.SUCCEEDED
    assert journal.executed == ["a", "b", "b", "c"]


def test_pause_then_revert_undoes_completed_tasks(runner, journal) -> None:
    """A paused run can be reverted instead; tasks never started are not touched."""
    record = runner.run(chain("pause"), {}, failure_points=(FailurePoint("c", "before"),))
    assert record.state is RunState.PAUSED
    record = runner.revert(record.run_id)
    assert record.state is RunState.REVERTED
    assert journal.executed == ["a", "b"]
    assert journal.reverted == ["b", "a"]


def test_finished_runs_cannot_be_resumed_or_reverted(runner) -> None:
    """Resume and revert refuse a run that already succeeded, saying why."""
    record = runner.run(chain(), {})
    with pytest.raises(InvalidState, match="succeeded"):
        runner.resume(record.run_id)
    with pytest.raises(InvalidState, match="succeeded"):
        runner.revert(record.run_id)


def test_retry_passes_after_transient_failures(runner, journal) -> None:
    """A task failing twice succeeds on the third of three attempts."""
    definition = loader.load_text("""
name: retried
tasks:
  - {name: flaky, action: core.fail, args: {times: 2}, retry: {attempts: 3}}
""")
    assert runner.run(definition, {}).state is RunState.SUCCEEDED
    assert journal.executed == ["flaky"] * 3


def test_retry_gives_up_and_reverts_after_its_attempts(runner, journal) -> None:
    """When attempts run out the whole flow reverts."""
    definition = loader.load_text("""
name: retried
tasks:
  - {name: first, action: core.echo, args: {message: x}}
  - {name: flaky, action: core.fail, args: {times: 5}, retry: {attempts: 2}, after: [first]}
""")
    assert runner.run(definition, {}).state is RunState.REVERTED
    assert journal.executed == ["first", "flaky", "flaky"]
    assert journal.reverted[-1] == "first"


def test_retry_only_on_named_errors(runner, journal) -> None:
    """retry.on_errors limits which exceptions are retried."""
    definition = loader.load_text("""
name: retried
tasks:
  - {name: flaky, action: core.fail, args: {times: 1}, retry: {attempts: 3, on_errors: [TaskTimeout]}}
""")
    assert runner.run(definition, {}).state is RunState.REVERTED
    assert journal.executed == ["flaky"]


def test_timeout_fails_a_slow_try(runner) -> None:
    """A try longer than its timeout fails with TaskTimeout and the flow reverts."""
    definition = loader.load_text("""
name: slow
tasks:
  - {name: slow, action: core.sleep, args: {seconds: 0.3}, timeout: 0.05}
""")
    record = runner.run(definition, {})
    assert record.state is RunState.REVERTED
    assert "timeout" in {t.path: t.error for t in record.tasks}["slow"]


def test_fan_out_never_exceeds_its_concurrency(tmp_path, clock) -> None:
    """With concurrency 2, at most two items run at once."""
    from opsflow.engines.runner import Runner

    class Peak:
        def __init__(self) -> None:
            self.running: set[str] = set()
            self.peak = 0
            self.lock = threading.Lock()

        def started(self, run_id: str, tasks: int) -> None:
            pass

        def task(self, path: str, state: str) -> None:
            with self.lock:
                if state == "RUNNING":
                    self.running.add(path)
                else:
                    self.running.discard(path)
                self.peak = max(self.peak, len(self.running))

    definition = loader.load_text("""
name: fan
inputs: {items: {type: list}}
tasks:
  - {name: each, for_each: "${inputs.items}", concurrency: 2, action: core.sleep, args: {seconds: 0.05}}
""")
    peak = Peak()
    with Runner(f"sqlite:///{tmp_path}/s.db", clock=clock, max_workers=8, observer=peak) as runner:
        record = runner.run(definition, {"items": list(range(6))})
    assert record.state is RunState.SUCCEEDED
    assert peak.peak == 2
    assert {t.path: t.result for t in record.tasks}["each"] == [0.05] * 6


def test_compensating_action_replaces_the_tasks_own_revert(runner, journal, caplog) -> None:
    """revert: {action: ...} runs that action, with the task's result available, and not the task's revert()."""
    caplog.set_level(logging.INFO, logger="opsflow.tasks.core")
    definition = loader.load_text("""
name: compensate
tasks:
  - name: make
    action: core.echo
    args: {message: thing}
    revert: {action: core.echo, args: {message: "undo ${tasks.make}"}}
  - {name: boom, action: core.fail, after: [make]}
""")
    assert runner.run(definition, {}).state is RunState.REVERTED
    echoed = [record.getMessage() for record in caplog.records if record.name == "opsflow.tasks.core"]
    # core.echo's own revert() would log "make: reverted thing"; the compensating echo runs instead.
    assert echoed == ["make: thing", "make: undo thing"]
    assert journal.reverted == ["boom", "make"]


def test_irreversible_step_is_left_in_place(runner, journal) -> None:
    """An irreversible step is not undone; the steps before it still are."""
    definition = loader.load_text("""
name: oneway
tasks:
  - {name: a, action: core.echo, args: {message: a}}
  - {name: burn, action: core.echo, args: {message: "${tasks.a}"}, revert: irreversible}
""")
    runner.run(definition, {}, failure_points=(FailurePoint("burn"),))
    assert journal.reverted == ["a"]


def test_seven_day_wait_holds_nothing_and_ends_on_the_clock(runner, journal, clock) -> None:
    """A 7-day wait suspends the run; resuming before it is due changes nothing; after, it finishes."""
    definition = loader.load_text("""
name: patience
tasks:
  - {name: before, action: core.echo, args: {message: x}}
  - {name: hold, action: core.wait, args: {seconds: 604800}, after: [before]}
  - {name: after, action: core.echo, args: {message: "${tasks.hold.ended_by}"}}
""")
    record = runner.run(definition, {}, hold_waits=False)
    assert record.state is RunState.WAITING
    assert record.waits == {"hold": clock.time + 604800}
    assert _threads_in_a_task_or_engine() == []
    clock.advance(604799)
    assert runner.resume(record.run_id, hold_waits=False).state is RunState.WAITING
    clock.advance(1)
    record = runner.resume(record.run_id, hold_waits=False)
    assert record.state is RunState.SUCCEEDED
    assert {t.path: t.result for t in record.tasks}["after"] == "time"
    assert journal.executed.count("before") == 1


def _threads_in_a_task_or_engine() -> list[str]:
    """Threads (other than this one) whose stack is inside an action or a TaskFlow engine right now."""
    busy = []
    for ident, frame in sys._current_frames().items():
        files = [f.f_code.co_filename for f, _line in traceback.walk_stack(frame)]
        if ident != threading.get_ident() and any("opsflow/tasks/" in f or "taskflow/engines/" in f for f in files):
            busy.append(next(t.name for t in threading.enumerate() if t.ident == ident))
    return busy


def test_signal_ends_a_wait_early(runner, clock) -> None:
    """A wait for a signal ends when `signal` delivers it, whatever the clock says."""
    definition = loader.load_text("""
name: approval
tasks:
  - {name: approve, action: core.wait, args: {seconds: 86400, signal: approved}}
""")
    record = runner.run(definition, {}, hold_waits=False)
    assert record.state is RunState.WAITING
    runner.signal(record.run_id, "approved")
    record = runner.resume(record.run_id, hold_waits=False)
    assert record.state is RunState.SUCCEEDED
    assert {t.path: t.result for t in record.steps} == {"approve": {"ended_by": "signal", "signal": "approved"}}


def test_demo_three_levels_with_fan_out_subflows_and_retry(runner, journal) -> None:
    """The README demo runs to success; its flaky transfer is retried once per server."""
    import os

    path = os.path.join(os.path.dirname(__file__), "..", "..", "..", "examples", "demo.yaml")
    record = runner.run(loader.load_file(path), {"servers": ["web-1", "web-2", "db-1"]})
    assert record.state is RunState.SUCCEEDED
    assert journal.executed.count("move[1].copy.link") == 2
    results = {t.path: t.result for t in record.tasks}
    assert [moved["server"] for moved in results["move"]] == ["web-1", "web-2", "db-1"]


def test_a_run_whose_first_owner_was_lost_while_storing_its_inputs_runs_for_the_next(runner, journal) -> None:
    """TaskFlow stores the inputs atom empty, then fills it: an owner lost between the two writes
    (SIGSTOPped just after its claim) left a run no later owner could load; now the next one runs it."""
    from taskflow.persistence import models
    from taskflow.storage import Storage

    from opsflow.engines import records

    run_id = runner.create(chain(), {})
    _book, detail = records.load_detail(runner._backend, run_id, runner.state_url)
    detail.add(models.TaskDetail(Storage.injector_name, uuid=f"{run_id}-injector"))  # the first write alone
    with records.connection(runner._backend) as conn:
        conn.update_flow_details(detail)
    assert runner.resume(run_id).state is RunState.SUCCEEDED
    assert journal.executed == ["a", "b", "c", "d"]


def test_a_task_scheduled_before_its_run_was_taken_over_does_not_act(runner, journal, monkeypatch) -> None:
    """A process stopped between scheduling a task and the task acting (SIGSTOPped while the RUNNING
    mark was being stored) wakes past its lease with another owner on the run: the task does not act."""

    def taken_over_meanwhile(backend, atom_uuid):  # what a SIGSTOP past the lease looks like to the worker
        with backend.transaction() as db:  # another process's take, once the lease had lapsed
            db.execute("UPDATE leases SET token = token + 1, holder = ?",
                       ('{"pid": 1, "host": "elsewhere", "started": "0", "conductor": "new"}',))
        time.sleep(0.5)

    monkeypatch.setattr(impl_sqlite.SQLiteBackend, "lease_ttl", 0.3, raising=False)
    monkeypatch.setattr(impl_sqlite.SQLiteBackend, "wait_stored", taken_over_meanwhile, raising=False)
    with pytest.raises(LeaseLost):
        runner.run(chain(), {})
    assert journal.executed == []
