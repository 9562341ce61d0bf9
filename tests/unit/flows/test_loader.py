"""Loading definitions: valid ones load; every mistake is a DefinitionError at file:line:col."""

import os

import pytest

from opsflow.errors import DefinitionError
from opsflow.flows import loader
from opsflow.flows.model import OnFailure

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "examples")
CORPUS = os.path.join(os.path.dirname(__file__), "malformed")


def test_demo_loads_with_its_nested_subflows() -> None:
    """The demo has a fan-out whose sub-flow has a sub-flow with a retry."""
    definition = loader.load_file(os.path.join(EXAMPLES, "demo.yaml"))
    move = definition.task("move")
    assert move.for_each is not None and move.concurrency == 2
    move_server = definition.subflows["move_server"]
    copy_disk = move_server.subflows["copy_disk"]
    assert copy_disk.task("link").retry is not None
    assert definition.on_failure is OnFailure.REVERT


def test_dependencies_come_from_references_and_after() -> None:
    """The dependency graph has an edge for each reference and each after:."""
    definition = loader.load_text(
        "name: d\ntasks:\n"
        "  - {name: a, action: core.echo}\n"
        "  - {name: b, action: core.echo, args: {message: '${tasks.a}'}}\n"
        "  - {name: c, action: core.noop, after: [b]}\n"
    )
    assert sorted(loader.dependency_graph(definition).edges) == [("a", "b"), ("b", "c")]


def _corpus() -> list[str]:
    return sorted(name for name in os.listdir(CORPUS) if name.endswith(".yaml"))


@pytest.mark.parametrize("name", _corpus())
def test_malformed_corpus_gives_file_line_column(name: str) -> None:
    """Each corpus file states its expected position and message in its first line comment."""
    path = os.path.join(CORPUS, name)
    with open(path, encoding="utf-8") as handle:
        first = handle.readline()
    assert first.startswith("# expect "), f"{name} must start with '# expect LINE:COL: text'"
    position, _, fragment = first[len("# expect "):].strip().partition(" ")
    line, column = (int(part) for part in position.rstrip(":").split(":"))
    with pytest.raises(DefinitionError) as caught:
        loader.load_file(path)
    error = caught.value
    assert (error.source, error.line, error.column) == (path, line, column)
    assert str(error).startswith(f"{path}:{line}:{column}: ")
    assert fragment in str(error)


def test_missing_file_names_the_path() -> None:
    """A missing file is a DefinitionError naming it."""
    with pytest.raises(DefinitionError, match="no such file"):
        loader.load_file("/nonexistent/flow.yaml")
