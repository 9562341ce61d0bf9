"""Retention drops finished runs' detail by age or count, keeps a summary, and spares what needs an operator."""

import pytest

from opsflow.engines import retention, signals
from opsflow.engines.atoms import FailurePoint
from opsflow.engines.records import RunState
from opsflow.errors import ConfigError, InvalidState
from tests.fixtures import APPROVAL, chain, opsflow
from opsflow.flows import loader

def test_durations_read_as_operators_write_them() -> None:
    """90, 90s, 30m, 12h, 7d and 2w are seconds; anything else is refused naming the forms."""
    assert [retention.parse_duration(t) for t in ("90", "90s", "30m", "12h", "7d", "2w")] == [
        90, 90, 1800, 43200, 604800, 1209600]
    with pytest.raises(ConfigError, match="7d or 12h"):
        retention.parse_duration("a week")


def test_keep_prunes_all_but_the_newest_finished_runs_and_keeps_their_summaries(runner, clock) -> None:
    """--keep 2 of five finished runs prunes the three oldest; list and show still know them."""
    ids = []
    for _ in range(5):
        ids.append(runner.run(chain(), {}).run_id)
        clock.advance(60)
    assert runner.prune(retention.Policy(None, 2), dry_run=True) == runner.prune(retention.Policy(None, 2))
    listed = {r.run_id: r for r in runner.runs()}
    assert sorted(listed) == sorted(ids)
    assert [listed[i].pruned_at is not None for i in ids] == [True, True, True, False, False]
    old = runner.record(ids[0])
    assert (old.state, old.name, old.tasks, old.created) == (RunState.SUCCEEDED, "chain", (), listed[ids[0]].created)
    assert len(runner.record(ids[4]).steps) == 4
    with pytest.raises(InvalidState):
        runner.resume(ids[0])
    with pytest.raises(InvalidState, match="was pruned"):
        runner.signal(ids[0], "go")


def test_age_prunes_only_runs_that_ended_long_enough_ago(runner, clock) -> None:
    """--older-than 1h prunes a run that ended two hours ago, not one that ended a minute ago."""
    old = runner.run(chain(), {}).run_id
    clock.advance(7200)
    new = runner.run(chain(), {}).run_id
    clock.advance(60)
    assert [r.run_id for r in runner.prune(retention.Policy(3600, None))] == [old]
    assert runner.record(new).pruned_at is None


def test_runs_that_have_not_ended_well_are_never_pruned(runner, clock) -> None:
    """Waiting and paused runs keep their detail, however old; a pruned run's signals go with it."""
    waiting = runner.run(loader.load_text(APPROVAL), {}, hold_waits=False).run_id
    runner.signal(waiting, "go")
    paused = runner.run(chain("pause"), {}, failure_points=(FailurePoint("c", "before"),)).run_id
    clock.advance(10 * 86400)
    assert runner.prune(retention.Policy(0, 0)) == []
    assert {runner.record(i).state for i in (waiting, paused)} == {RunState.WAITING, RunState.PAUSED}
    done = runner.resume(waiting, hold_waits=False)
    assert done.state is RunState.SUCCEEDED
    assert [r.run_id for r in runner.prune(retention.Policy(0, 0))] == [waiting]
    assert signals.of(runner._backend, waiting) == []


def test_flows_prune_command(tmp_path, capsys) -> None:
    """`opsflow flows prune --keep 0` prunes and says how many; --dry-run only lists; list shows 'pruned'."""
    state = f"sqlite:///{tmp_path}/state.db"
    (tmp_path / "chain.yaml").write_text(chain().text)
    assert opsflow(capsys, "run", "--state", state, str(tmp_path / "chain.yaml"))[0] == 0
    code, out, err = opsflow(capsys, "flows", "prune", "--keep", "0", "--dry-run", "--state", state, "-f", "value",
                             "-c", "state")
    assert (code, out.strip(), err.strip()) == (0, "succeeded", "would prune 1 finished runs")
    assert opsflow(capsys, "flows", "prune", "--older-than", "0s", "--state", state)[2].strip() == \
        "pruned 1 finished runs"
    code, out, _ = opsflow(capsys, "flows", "list", "--state", state, "-f", "value", "-c", "state", "-c", "tasks done")
    assert (code, out.strip()) == (0, "succeeded pruned")
