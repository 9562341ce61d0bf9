"""Fuzzing the loader: whatever the input, only DefinitionError comes out, never a traceback."""

import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from opsflow.engines import definition_compiler
from opsflow.engines.atoms import RunOptions
from opsflow.errors import DefinitionError
from opsflow.flows import inputs, loader
from tests import strategies

_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _load_or_definition_error(text: str) -> None:
    try:
        loader.load_text(text, "fuzz.yaml")
    except DefinitionError as exc:
        assert str(exc).startswith("fuzz.yaml:")
        assert exc.line >= 0 and exc.column >= 0


@_SETTINGS
@given(st.text(max_size=200))
def test_arbitrary_text_gives_only_definition_errors(text: str) -> None:
    """Random text either loads or raises DefinitionError with a position."""
    _load_or_definition_error(text)


@_SETTINGS
@given(st.text(alphabet="ab:-[]{}\"'#&*!|>%@`,? \n\t${}.", max_size=120))
def test_yaml_punctuation_gives_only_definition_errors(text: str) -> None:
    """YAML-heavy noise either loads or raises DefinitionError."""
    _load_or_definition_error(text)


@_SETTINGS
@given(strategies.broken_documents())
def test_mutated_definitions_give_only_definition_errors(text: str) -> None:
    """A valid definition with one value replaced by anything either loads or raises DefinitionError."""
    _load_or_definition_error(text)


@settings(max_examples=100, deadline=None)
@given(strategies.valid_definitions())
def test_generated_definitions_round_trip_and_compile_acyclic(document: dict) -> None:
    """Valid definitions survive a YAML dump/load, keep task order, and compile."""
    text = yaml.safe_dump(document, sort_keys=False)
    definition = loader.load_text(text)
    assert [task.name for task in definition.tasks] == [task["name"] for task in document["tasks"]]
    assert loader.load_text(yaml.safe_dump(yaml.safe_load(text), sort_keys=False)).tasks == definition.tasks
    compiled = definition_compiler.compile_flow(definition, inputs.validate(definition, {}), RunOptions("fuzz"))
    assert compiled.task_count == len(document["tasks"])
