"""The opsflow command: exit codes, one-line errors, JSON output, and the run/resume/revert cycle."""

import json
import os

import pytest

from opsflow.engines.runner import Runner
from tests.fixtures import opsflow

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


@pytest.fixture
def state(tmp_path) -> str:
    return f"sqlite:///{tmp_path}/state.db"


def test_validate_ok_and_error_exit_codes(capsys, tmp_path) -> None:
    """validate exits 0 for good files and 1 with file:line:col for bad ones."""
    code, out, _ = opsflow(capsys, "validate", os.path.join(EXAMPLES, "demo.yaml"))
    assert code == 0 and "ok (demo" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntasks:\n  - name: a\n    action: core.nope\n")
    code, _, err = opsflow(capsys, "validate", str(bad))
    assert code == 1 and err.startswith(f"{bad}:4:13: unknown action")


def test_usage_error_exits_2(capsys) -> None:
    """An unknown option is a usage error."""
    assert opsflow(capsys, "run", "--no-such-option")[0] == 2


def test_graph_text_and_dot(capsys) -> None:
    """graph prints an outline, or DOT with clusters for sub-flows."""
    demo = os.path.join(EXAMPLES, "demo.yaml")
    code, out, _ = opsflow(capsys, "graph", demo)
    assert code == 0 and "move | flow move_server" in out
    code, out, _ = opsflow(capsys, "graph", demo, "--format", "dot")
    assert code == 0 and out.startswith('digraph "demo"') and "subgraph cluster_" in out


def test_run_json_reports_every_task(capsys, state) -> None:
    """run --json prints the final record with each task's state."""
    demo = os.path.join(EXAMPLES, "demo.yaml")
    code, out, _ = opsflow(capsys, "run", demo, "-i", "servers=a,b", "--json", "--state", state)
    record = json.loads(out)
    assert code == 0 and record["state"] == "succeeded"
    assert {t["path"]: t["state"] for t in record["tasks"]}["move[1].copy.verify"] == "SUCCESS"


def test_missing_input_is_one_clear_line(capsys, state) -> None:
    """A missing input is the user's mistake: exit 2 naming the input and how to pass it."""
    code, _, err = opsflow(capsys, "run", os.path.join(EXAMPLES, "demo.yaml"), "--state", state)
    assert code == 2 and "needs input 'servers'" in err and "--input servers=" in err


def test_pause_resume_and_revert_from_the_command_line(capsys, state) -> None:
    """An injected failure with --on-failure pause stops the run; revert undoes it; flows show tells."""
    demo = os.path.join(EXAMPLES, "demo.yaml")
    code, out, err = opsflow(capsys, "run", demo, "-i", "servers=a", "--on-failure", "pause",
                             "--inject-failure", "move[0].start:before", "--state", state)
    assert code == 1 and "paused" in out and "opsflow resume" in err
    run_id = out.split()[1]
    code, out, _ = opsflow(capsys, "flows", "list", "-f", "json", "--state", state)
    assert [(r["id"], r["state"]) for r in json.loads(out)] == [(run_id, "paused")]
    code, out, _ = opsflow(capsys, "revert", run_id, "--state", state)
    assert code == 0 and f"run {run_id} reverted" in out
    code, out, _ = opsflow(capsys, "flows", "show", run_id, "-f", "json", "--state", state)
    tasks = {t["path"]: t["state"] for t in json.loads(out)["tasks"]}
    assert tasks["plan"] == "REVERTED" and tasks["move[0].start"] != "SUCCESS"


def test_unknown_run_id_names_the_fix(capsys, state) -> None:
    """resume of an unknown id exits 2 and says how to list ids."""
    with Runner(state) as runner:
        runner.runs()  # the state file exists; the id is what is unknown
    code, _, err = opsflow(capsys, "resume", "nope", "--state", state)
    assert code == 2 and "opsflow flows list" in err


def test_actions_show_reads_arguments_from_code(capsys) -> None:
    """actions show lists an action's arguments and defaults."""
    code, out, _ = opsflow(capsys, "actions", "show", "core.wait", "-f", "json")
    assert code == 0
    assert [row["argument"] for row in json.loads(out)] == ["seconds", "until", "signal"]
