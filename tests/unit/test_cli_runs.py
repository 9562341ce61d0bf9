"""What an operator sees of a run at the command line: waits in words, signals checked, columns picked."""

import datetime
import json

import pytest

from tests.fixtures import APPROVAL, opsflow


@pytest.fixture
def state(tmp_path) -> str:
    return f"sqlite:///{tmp_path}/state.db"


@pytest.fixture
def waiting_run(capsys, tmp_path, state) -> str:
    """The id of a run of APPROVAL left at its wait (--no-wait)."""
    flow = tmp_path / "approval.yaml"
    flow.write_text(APPROVAL)
    code, out, err = opsflow(capsys, "run", str(flow), "--no-wait", "--state", state)
    assert code == 0, err
    return out.split()[1]


def test_a_wait_reads_as_its_due_time_and_signal(capsys, state, waiting_run) -> None:
    """flows show gives a waiting task as WAITING, 'waiting until <ISO> or signal 'go'', not FAILURE and an epoch."""
    code, out, _ = opsflow(capsys, "flows", "show", waiting_run, "-f", "json", "--state", state)
    shown = json.loads(out)
    (task,) = shown["tasks"]
    due = datetime.datetime.fromisoformat(task["error"].removeprefix("waiting until ").split(" or ")[0])
    assert task["state"] == "WAITING"
    assert task["error"] == f"waiting until {due.isoformat()} or signal 'go'"
    assert abs(due.timestamp() - datetime.datetime.now(datetime.timezone.utc).timestamp() - 86400) < 600
    assert shown["waits"] == {"approve": task["error"]}


def test_signal_of_a_name_no_wait_takes_is_refused(capsys, state, waiting_run) -> None:
    """A signal no wait of the run takes is refused (exit 2) naming the ones it takes."""
    code, _, err = opsflow(capsys, "signal", waiting_run, "og", "--state", state)
    assert code == 2
    assert err.strip() == f"opsflow: run {waiting_run} waits for no signal 'og'; its waits take: go"


def test_signal_of_a_finished_run_is_refused(capsys, state, waiting_run) -> None:
    """Once a run has ended, a signal is refused (exit 2) saying the run's state."""
    assert opsflow(capsys, "signal", waiting_run, "go", "--state", state)[0] == 0
    assert opsflow(capsys, "resume", waiting_run, "--state", state)[0] == 0
    code, _, err = opsflow(capsys, "signal", waiting_run, "go", "--state", state)
    assert code == 2 and "has succeeded; a signal can no longer change it" in err


def test_flows_show_json_honours_columns(capsys, state, waiting_run) -> None:
    """flows show -f json -c id prints only the id."""
    code, out, _ = opsflow(capsys, "flows", "show", waiting_run, "-f", "json", "-c", "id", "--state", state)
    assert code == 0 and json.loads(out) == {"id": waiting_run}
