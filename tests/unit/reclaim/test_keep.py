"""A keep is recorded before the run is told, and refused (with a reason) once the run decided to act."""

from pathlib import Path

import pytest

from opsflow.errors import InvalidState
from opsflow.reclaim import keep as keeping
from opsflow.reclaim.audit import open_store

NOW = 1_800_000_000.0


def test_a_keep_after_the_decision_to_act_is_refused_and_logged(tmp_path: Path) -> None:
    """The run's `act` won the cycle's decision: the keep says so instead of vanishing."""
    signalled: list[str] = []
    with open_store(f"sqlite:///{tmp_path}/state.db") as store:
        store.claim("srv", 1, "run-1")
        assert store.decide("srv", 1, "act") == "act"
        with pytest.raises(InvalidState, match="already being reclaimed"):
            keeping.keep(store, "cloud", "srv", 10, "owner:link", NOW, signalled.append)
        assert [e.action for e in store.events("srv")] == ["keep-refused"]
        assert store.keep_until("srv", NOW) is None and signalled == []


def test_a_keep_wins_the_decision_so_the_final_step_cannot_act(tmp_path: Path) -> None:
    """Once the keep holds the cycle's decision, the run's later `act` reads `keep` back."""
    with open_store(f"sqlite:///{tmp_path}/state.db") as store:
        store.claim("srv", 1, "run-1")
        assert store.decide("srv", 1, "keep") == "keep"
        assert store.decide("srv", 1, "act") == "keep"
        assert store.decision("srv", 1) == "keep" and store.decision("srv", 2) is None
