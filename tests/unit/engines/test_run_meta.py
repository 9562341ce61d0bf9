"""A run's metadata has one owner and one namespace; operators and observers see tasks, not atoms."""

import contextlib

from opsflow.engines import persistence, records
from opsflow.engines.records import RunState
from opsflow.engines.run_meta import META_KEY, RunMeta
from opsflow.engines.runner import Runner
from opsflow.flows import loader, resolver

WAIT_THEN_FAIL = loader.load_text("""
name: meta
on_failure: pause
tasks:
  - {name: hold, action: core.wait, args: {seconds: 60, signal: go}}
  - {name: step, action: core.fail, args: {times: 1}, after: [hold], retry: {attempts: 1}}
""")


def _stored_meta(runner, run_id: str) -> dict:
    backend = persistence.fetch(runner.state_url)
    with contextlib.closing(backend):
        return dict(records.load_detail(backend, run_id, runner.state_url)[1].meta)


def test_waits_and_pauses_are_kept_under_one_key_signals_beside_it(runner, clock) -> None:
    """Memory and the pause live in RunMeta under one metadata key; signals are facts of their own."""
    record = runner.run(WAIT_THEN_FAIL, {}, hold_waits=False)
    assert record.state is RunState.WAITING
    runner.signal(record.run_id, "go")
    record = runner.resume(record.run_id, hold_waits=False)
    assert record.state is RunState.PAUSED
    meta = _stored_meta(runner, record.run_id)
    assert list(meta) == [META_KEY]
    stored = RunMeta.of(meta)
    assert stored.signals == ()
    assert runner.signals(record.run_id) == ["go"]
    assert stored.memory["hold"] == {"due": clock.time + 60, "signal": "go"}
    assert stored.paused_at == clock.time
    record = runner.resume(record.run_id)
    assert record.state is RunState.SUCCEEDED
    assert RunMeta.of(_stored_meta(runner, record.run_id)).paused_at is None


class _Seen:
    def __init__(self) -> None:
        self.paths: list[str] = []

    def started(self, run_id: str, tasks: int) -> None:
        self.tasks = tasks

    def task(self, path: str, state: str) -> None:
        self.paths.append(path)


def test_observer_and_steps_name_tasks_only(tmp_path, clock) -> None:
    """Retry controllers and sub-flow gates (paths with '#') reach neither observers nor `steps`."""
    leaf = "name: leaf\ntasks:\n  - {name: x, action: core.noop}\n"
    definition = loader.load_text("""
name: outer
tasks:
  - {name: a, action: core.echo, args: {message: a}, retry: {attempts: 2}}
  - {name: b, action: core.echo, args: {message: b}, for_each: [1, 2], concurrency: 1}
  - {name: c, flow: leaf}
""", resolver=resolver.StoredResolver({"leaf": ("leaf.yaml", leaf)}))
    seen = _Seen()
    with Runner(f"sqlite:///{tmp_path}/state.db", clock=clock, observer=seen) as runner:
        record = runner.run(definition, {})
    assert record.state is RunState.SUCCEEDED
    assert sorted(set(seen.paths)) == ["a", "b", "b[0]", "b[1]", "c", "c.x"]
    assert sorted(t.path for t in record.steps) == ["a", "b", "b[0]", "b[1]", "c", "c.x"]
    assert any(t.internal for t in record.tasks)
