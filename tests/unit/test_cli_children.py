"""`opsflow flows list|show` and child runs: children hidden unless asked, listed under their parent."""

import json

from tests import child_flows
from tests.unit.engines.test_children import LEAF
from tests.fixtures import opsflow


def test_flows_list_hides_children_unless_asked_and_show_lists_them_under_the_parent(capsys, tmp_path) -> None:
    """A batch of three: `flows list` shows the parent only, --children all four; `flows show` the three."""
    child_flows.write(tmp_path, LEAF, child_flows.batch())
    state = f"sqlite:///{tmp_path}/state.db"
    code, out, _ = opsflow(capsys, "run", str(tmp_path / "batch.yaml"), "-i", "items=[7, 8, 9]", "--state", state,
                           "--json")
    assert code == 0
    parent = json.loads(out)["id"]

    listed = json.loads(opsflow(capsys, "flows", "list", "-f", "json", "--state", state)[1])
    assert [row["id"] for row in listed] == [parent]
    everything = json.loads(opsflow(capsys, "flows", "list", "--children", "-f", "json", "--state", state)[1])
    assert len(everything) == 4 and sorted(row["parent"] or "" for row in everything)[1:] == [parent] * 3

    shown = json.loads(opsflow(capsys, "flows", "show", parent, "-f", "json", "--state", state)[1])
    children = shown["children"]
    assert [(c["task"], c["item"], c["state"]) for c in children] == [("each", i, "succeeded") for i in range(3)]
    code, out, _ = opsflow(capsys, "flows", "show", children[1]["child run"], "--state", state)
    assert code == 0 and f"{parent} (each[1])" in out
    assert children[0]["child run"] in opsflow(capsys, "flows", "show", parent, "--state", state)[1]
