"""Everything that can be known before a run is checked at load time, with the line and column."""

import pytest

from opsflow.engines import definition_compiler
from opsflow.engines.atoms import RunOptions
from opsflow.errors import DefinitionError
from opsflow.flows import loader, resolver


def _wait(args: str) -> str:
    return f"name: w\ntasks:\n  - name: hold\n    action: core.wait\n    args: {args}\n"


@pytest.mark.parametrize(("args", "where", "reason"), [
    ('{until: "next tuesday"}', "5:19", "argument 'until' of 'core.wait' must be an ISO 8601 time"),
    ("{seconds: .nan}", "5:21", "'.nan' is not a number a flow can use"),
    ("{seconds: -5}", "5:21", "argument 'seconds' of 'core.wait': -5 is less than the minimum of 0"),
    ('{seconds: "10"}', "5:21", "argument 'seconds' of 'core.wait' must be a number or null, not str '10'"),
    ('{signal: "two words"}', "5:20", "argument 'signal' of 'core.wait' must be a signal name"),
])
def test_action_arguments_are_checked_against_signature_and_schema(args: str, where: str, reason: str) -> None:
    """A literal argument that the action's signature or schema refuses fails at load, at the argument."""
    with pytest.raises(DefinitionError) as raised:
        loader.load_text(_wait(args))
    assert str(raised.value).startswith(f"<string>:{where}: {reason}")


def test_numbers_in_exponent_form_are_numbers() -> None:
    """`1e3` and `2.5E-1` are numbers (YAML 1.2, JSON), not the strings PyYAML's YAML 1.1 makes of them."""
    definition = loader.load_text(_wait("{seconds: 1e3}"))
    assert definition.tasks[0].args == {"seconds": 1000.0}
    assert loader.load_text(_wait("{seconds: 2.5E-1}")).tasks[0].args == {"seconds": 0.25}


def test_for_each_over_a_string_input_is_refused_at_load() -> None:
    """A fan-out over an input declared as a string fails at load, at its for_each, not at run time as 0:0."""
    with pytest.raises(DefinitionError) as raised:
        loader.load_text("name: f\ninputs: {names: {type: string}}\ntasks:\n"
                         "  - {name: each, action: core.noop, for_each: '${inputs.names}'}\n")
    assert str(raised.value).startswith("<string>:4:47: for_each over input 'names' of type string")


LEAF = "name: leaf\ninputs: {items: {type: list}}\ntasks:\n  - {name: each, action: core.noop, for_each: '${inputs.items}'}\n"


def test_sub_flow_fanning_out_over_a_tasks_result_is_refused_at_load() -> None:
    """A sub-flow whose for_each expands an argument fed by a task's result fails at load, at that argument."""
    stored = resolver.StoredResolver({"leaf": ("leaf.yaml", LEAF)})
    text = ("name: top\ntasks:\n  - {name: list, action: core.echo, args: {message: [1, 2]}}\n"
            "  - name: fan\n    flow: leaf\n    args: {items: '${tasks.list}'}\n")
    with pytest.raises(DefinitionError) as raised:
        loader.load_text(text, resolver=stored)
    assert str(raised.value).startswith("<string>:6:19: flow 'leaf' fans out over its input 'items'")


def test_compiler_errors_point_at_the_task() -> None:
    """A fan-out whose list turns out not to be one (an `any` input given a string) fails at the task's position."""
    definition = loader.load_text("name: f\ninputs: {names: {type: any}}\ntasks:\n"
                                  "  - {name: a, action: core.noop}\n"
                                  "  - {name: each, action: core.noop, for_each: '${inputs.names}'}\n")
    with pytest.raises(DefinitionError) as raised:
        definition_compiler.compile_flow(definition, {"names": "abc"}, RunOptions("r"))
    assert str(raised.value) == "<string>:5:5: for_each of task 'each' must give a list, got str"
