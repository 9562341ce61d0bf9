"""What `opsflow run` accepts: inputs given once, values from files, failure points that name an action."""

import json
import os

import pytest

from tests.fixtures import opsflow

DEMO = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "demo.yaml")


@pytest.fixture
def state(tmp_path) -> str:
    return f"sqlite:///{tmp_path}/state.db"


@pytest.mark.parametrize(("point", "reason"), [
    ("move", "names 'move', a fan-out or sub-flow, which runs no action itself; name a task inside it, "
             "e.g. 'move[0].snapshot'"),
    ("move[0]", "names 'move[0]', a fan-out or sub-flow, which runs no action itself"),
    ("nothing-by-this-name", "matches no task of the flow; its tasks: plan, move[0]."),
    ("", "matches no task of the flow"),
])
def test_inject_failure_must_name_an_action(capsys, state, point: str, reason: str) -> None:
    """--inject-failure naming a fan-out, a sub-flow or nothing is refused (exit 2) before any run exists."""
    code, out, err = opsflow(capsys, "run", DEMO, "-i", "servers=a", "--inject-failure", point, "--state", state)
    assert code == 2 and out == ""
    assert err.startswith(f"opsflow: --inject-failure {point!r} {reason}") and len(err.splitlines()) == 1
    code, out, err = opsflow(capsys, "flows", "list", "-f", "json", "--state", state)
    assert code == 2 and "no SQLite state file" in err  # not even the state file was made


def test_an_input_given_twice_is_refused(capsys, state) -> None:
    """-i servers=a -i servers=b is refused (exit 2): which one was meant cannot be guessed."""
    code, _, err = opsflow(capsys, "run", DEMO, "-i", "servers=a", "-i", "servers=b", "--state", state)
    assert code == 2 and "--input servers is given twice" in err


@pytest.mark.parametrize("text", ['["web-1", "web-2"]', "- web-1\n- web-2\n"])
def test_an_input_is_read_from_a_json_or_yaml_file(capsys, tmp_path, state, text: str) -> None:
    """-i servers=@FILE reads the value from a JSON or YAML file."""
    values = tmp_path / "servers.txt"
    values.write_text(text)
    code, out, _ = opsflow(capsys, "run", DEMO, "-i", f"servers=@{values}", "--json", "--state", state)
    assert code == 0 and json.loads(out)["inputs"] == {"servers": ["web-1", "web-2"]}


def test_an_input_file_that_is_not_there_is_one_line(capsys, tmp_path, state) -> None:
    """-i servers=@missing names the file and exits 2."""
    code, _, err = opsflow(capsys, "run", DEMO, "-i", f"servers=@{tmp_path}/missing.yaml", "--state", state)
    assert code == 2 and err.startswith("opsflow: input 'servers': ") and "missing.yaml" in err
