"""Expressions: references parse, evaluate and fail clearly."""

import pytest

from opsflow.errors import ExpressionError
from opsflow.flows import expressions
from opsflow.flows.expressions import Expression


def test_whole_reference_keeps_the_value_type() -> None:
    """A string that is exactly one ${...} evaluates to the referenced value itself."""
    expr = expressions.parse_template("${tasks.create.ids[1]}")
    assert isinstance(expr, Expression)
    assert expr.evaluate({"tasks": {"create": {"ids": [3, 4]}}}) == 4


def test_text_around_references_interpolates() -> None:
    """Text around references makes a string."""
    expr = expressions.parse_template("vm-${index}-${item.name}")
    assert isinstance(expr, Expression)
    assert expr.evaluate({"index": 2, "item": {"name": "web"}}) == "vm-2-web"


def test_plain_strings_stay_strings() -> None:
    """A string without ${ is not an expression."""
    assert expressions.parse_template("just text") == "just text"


@pytest.mark.parametrize("text", ["${}", "${nope.x}", "${inputs}", "${inputs.a..b}", "${inputs.a b}", "${tasks[0]}",
                                  "${inputs.a", "a ${ b"])
def test_malformed_references_raise_expression_error(text: str) -> None:
    """Malformed references are rejected with ExpressionError."""
    with pytest.raises(ExpressionError):
        expressions.parse_template(text)


def test_missing_key_names_what_exists() -> None:
    """Resolving a missing key says which keys there are."""
    expr = expressions.parse_template("${inputs.cfg.port}")
    assert isinstance(expr, Expression)
    with pytest.raises(ExpressionError, match="keys"):
        expr.evaluate({"inputs": {"cfg": {"host": "h"}}})


def test_references_are_found_in_nested_values() -> None:
    """references_of walks lists and mappings."""
    value = expressions.compile_value({"a": ["${inputs.x}", {"b": "${tasks.t.y}"}], "c": 3})
    assert [ref.text for ref in expressions.references_of(value)] == ["inputs.x", "tasks.t.y"]
