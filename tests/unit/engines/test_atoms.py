"""What an action learns of its run from the atom that runs it."""

from __future__ import annotations

from opsflow.engines import atoms


def _context_of(inputs: object) -> atoms.RunContext:
    atom = atoms.ActionAtom("copy", "core.noop", {}, atoms.Scope(inputs_symbol="#inputs", prefix=""),
                            atoms.RunOptions(run_id="r1"))
    return atom._make(None, {"#inputs": inputs}).context


def test_an_action_sees_its_flows_limits_input() -> None:
    """A forklift run's ``limits`` reach every task (its rates pace every action), whatever the task's args."""
    limits = {"api_calls_per_second": 20, "transfers": 4}
    assert _context_of({"server": "web-1", "limits": limits}).limits == limits


def test_a_flow_without_limits_gives_its_actions_none() -> None:
    """No ``limits`` input, or one that is not a mapping: nothing to honour."""
    assert _context_of({"server": "web-1"}).limits == {}
    assert _context_of({"limits": 3}).limits == {}
    assert _context_of(None).limits == {}
