"""The batch flows load, and a failure point must name a task of the per-server flow, before any cloud is asked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from opsflow.engines.atoms import FailurePoint
from opsflow.engines.runner import Runner
from opsflow.errors import InvalidInput
from opsflow.flows import loader, resolver


@pytest.mark.parametrize(("flow", "inputs"), [
    ("hibernate-batch", {"servers": ["a", "b"], "cloud": "nowhere"}),
    ("restore-batch", {"names": ["a", "b"], "cloud": "nowhere"}),
])
def test_a_point_outside_the_per_server_flow_is_refused(flow: str, inputs: dict[str, object], tmp_path: Path) -> None:
    """``hibernate[1].nope`` names no task of hibernate.yaml: refused, and no run is stored."""
    definition = loader.load_file(os.path.join(resolver.BUILTIN_DIR, f"{flow}.yaml"))
    task = flow.split("-")[0]
    with Runner(f"sqlite:///{tmp_path}/state.db") as runner:
        with pytest.raises(InvalidInput, match="matches no task"):
            runner.run(definition, inputs, failure_points=(FailurePoint(f"{task}[1].nope"),))
        assert runner.runs() == []
