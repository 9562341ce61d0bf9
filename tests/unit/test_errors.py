"""The error tree drawn in ``opsflow.errors`` is the real one: operators and callers read it to know what to catch."""

import re

from opsflow import errors
from opsflow.cli import INPUT_ERRORS

#: A line of the drawing: its indent (the depth), the class, and ``[2]`` for a usage error.
TREE_LINE = re.compile(r"^(?P<indent>[ |]*)\+-- (?P<name>\w+)\s+(?P<usage>\[2\])?")


def _drawn() -> list[tuple[str, str, bool]]:
    """(class, its parent in the drawing, marked [2]) for every class drawn under OpsflowError."""
    assert errors.__doc__ is not None
    parents = ["OpsflowError"]
    found = []
    for line in errors.__doc__.splitlines():
        match = TREE_LINE.match(line)
        if match is None:
            continue
        depth, misaligned = divmod(len(match["indent"]), 5)
        assert not misaligned and depth >= 1, f"misaligned in the drawing: {line!r}"
        del parents[depth:]
        found.append((match["name"], parents[-1], bool(match["usage"])))
        parents.append(match["name"])
    return found


def test_every_error_class_is_drawn_under_its_real_parent() -> None:
    drawn = _drawn()
    for name, parent, _usage in drawn:
        assert getattr(errors, name).__bases__[0] is getattr(errors, parent), f"{name} is drawn under {parent}"
    classes = {name for name in errors.__all__ if isinstance(getattr(errors, name), type)} - {"OpsflowError"}
    assert {name for name, _parent, _usage in drawn} == classes


def test_the_classes_marked_as_usage_errors_are_those_the_cli_exits_2_for() -> None:
    for name, _parent, usage in _drawn():
        assert issubclass(getattr(errors, name), INPUT_ERRORS) is usage, f"{name}: [2] in the drawing is {usage}"
