"""Sub-flows are stored by resolved identity (path and content hash), not by the name a task gives."""

from pathlib import Path

from opsflow.engines.records import RunState
from opsflow.engines.run_meta import RunMeta
from opsflow.flows import loader


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_two_subflows_each_using_their_own_leaf_run_the_right_files(runner, journal, tmp_path) -> None:
    """a/x.yaml and b/y.yaml both say `flow: leaf`, meaning a/leaf.yaml and b/leaf.yaml: each runs its own."""
    for side in ("a", "b"):
        _write(tmp_path / side / "leaf.yaml",
               f"name: leaf\ntasks:\n  - {{name: from_{side}, action: core.echo, args: {{message: {side}}}}}\n")
        _write(tmp_path / side / f"wrap_{side}.yaml", f"name: wrap_{side}\ntasks:\n  - {{name: go, flow: leaf}}\n")
    _write(tmp_path / "main.yaml",
           "name: main\ntasks:\n  - {name: x, flow: a/wrap_a}\n  - {name: y, flow: b/wrap_b, after: [x]}\n")
    definition = loader.load_file(str(tmp_path / "main.yaml"))
    record = runner.run(definition, {})  # the run is rebuilt from what was stored, not from the files
    assert record.state is RunState.SUCCEEDED
    assert journal.executed == ["x.go.from_a", "y.go.from_b"]


def test_the_same_leaf_used_twice_is_stored_once(runner, tmp_path) -> None:
    """One file referenced from two places is one stored text."""
    _write(tmp_path / "leaf.yaml", "name: leaf\ntasks:\n  - {name: t, action: core.noop}\n")
    _write(tmp_path / "main.yaml", "name: main\ntasks:\n  - {name: x, flow: leaf}\n  - {name: y, flow: leaf}\n")
    meta = RunMeta.new(loader.load_file(str(tmp_path / "main.yaml")), {}, 0.0)
    assert len(meta.subflows) == 1 and RunMeta.of(meta.to_meta()).links == meta.links
