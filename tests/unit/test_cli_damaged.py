"""A damaged record is reported as damaged while the rest still list; a --state file that is not there is an error."""

import sqlite3
from pathlib import Path

import pytest

from tests.fixtures import chain, opsflow


@pytest.fixture
def three_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, Path, list[str]]:
    """Three finished runs in a fresh SQLite file: its URL, its path and the run ids (oldest first)."""
    db = tmp_path / "state.db"
    flow = tmp_path / "chain.yaml"
    flow.write_text(chain().text)
    ids = []
    for _ in range(3):
        code, out, _err = opsflow(capsys, "run", "--state", f"sqlite:///{db}", str(flow))
        assert code == 0
        ids.append(out.split()[1])
    return f"sqlite:///{db}", db, ids


def test_one_corrupted_atom_row_is_reported_and_the_rest_still_list(
        three_runs: tuple[str, Path, list[str]], capsys: pytest.CaptureFixture[str]) -> None:
    """`flows list` names the damaged run and row on stderr, lists it as damaged and the other two as they are."""
    url, db, ids = three_runs
    with sqlite3.connect(db) as conn:
        atom = conn.execute("SELECT a.uuid FROM atomdetails a JOIN flowdetails f ON a.flow_uuid = f.uuid "
                            "WHERE f.book_uuid = ? AND a.name = 'b'", (ids[1],)).fetchone()[0]
        conn.execute("UPDATE atomdetails SET state = '{\"truncat' WHERE uuid = ?", (atom,))
    code, out, err = opsflow(capsys, "flows", "list", "--state", url, "-f", "value", "-c", "id", "-c", "state")
    assert code == 0
    assert sorted(out.splitlines()) == sorted([f"{ids[0]} succeeded", f"{ids[1]} damaged", f"{ids[2]} succeeded"])
    assert err.splitlines() == [err.splitlines()[0]] and f"run {ids[1]} is damaged: atomdetails row {atom}" in err
    assert "Traceback" not in err

    code, out, err = opsflow(capsys, "flows", "show", ids[1], "--state", url)
    assert code == 1 and len(err.splitlines()) == 1 and f"atomdetails row {atom} in {db}" in err
    assert opsflow(capsys, "flows", "show", ids[2], "--state", url)[0] == 0


def test_damaged_run_metadata_is_reported_too(three_runs: tuple[str, Path, list[str]],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A flow detail whose JSON is valid but whose opsflow metadata is not is damaged, not a traceback."""
    url, db, ids = three_runs
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE flowdetails SET state = '{\"state\": \"SUCCESS\", \"meta\": {\"opsflow\": 7}}' "
                     "WHERE uuid = ?", (ids[0],))
    code, out, err = opsflow(capsys, "flows", "list", "--state", url, "-f", "value", "-c", "state")
    assert code == 0 and sorted(out.split()) == ["damaged", "succeeded", "succeeded"]
    assert f"run {ids[0]} is damaged: the opsflow metadata of flow detail {ids[0]}" in err


@pytest.mark.parametrize("argv", [["flows", "list"], ["flows", "show", "x"], ["resume", "x"], ["revert", "x"],
                                  ["signal", "x", "go"], ["flows", "prune"]])
def test_a_state_file_that_does_not_exist_is_an_error_not_an_empty_database(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    """Commands that only read or continue runs exit 2 naming the path and the fix, and create nothing."""
    missing = tmp_path / "typo" / "stat.db"
    code, out, err = opsflow(capsys, *argv, "--state", f"sqlite:///{missing}")
    assert (code, out) == (2, "")
    assert err.splitlines() == [f"opsflow: no SQLite state file at {missing}: nothing has run with this state, or "
                                f"the path is mistyped; check --state or $OPSFLOW_STATE (`opsflow run` creates "
                                f"the file)"]
    assert not missing.parent.exists()


def test_run_creates_the_state_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`opsflow run` creates a state file (and its directory) that does not exist yet."""
    db = tmp_path / "new" / "state.db"
    (tmp_path / "chain.yaml").write_text(chain().text)
    assert opsflow(capsys, "run", "--state", f"sqlite:///{db}", str(tmp_path / "chain.yaml"))[0] == 0
    assert db.is_file()
