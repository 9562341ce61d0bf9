"""A failure injected before and after every step of forklift.yaml leaves both clouds as they were.

A failure *after* a step is the hard case (the step acted, then its revert must undo it); a failure
*before* a step leaves exactly what the steps before it made. ``OPSFLOW_FORKLIFT_FULL_REVERT=1``
runs both for every step (about a minute a case on a busy machine, 38 cases); CI runs the cases
that undo the most (20-30 s each, so four, to keep CI in its budget): the twin made (create), the
disk brought over (copy, before and after) and the last step (cleanup), after which everything —
the destination's networks, the stopped source, the twin's power — must come undone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsflow import clouds
from opsflow.devcloud.layout import Layout
from opsflow.engines.records import RunState
from opsflow.flows import loader
from opsflow.flows.resolver import BUILTIN_DIR

from .harness import SOURCE, Source, both_clouds, fresh_source, run_forklift

pytestmark = [pytest.mark.functional, pytest.mark.slow]

STEPS = [task.name for task in loader.load_file(f"{BUILTIN_DIR}/forklift.yaml").tasks]
_FULL = os.environ.get("OPSFLOW_FORKLIFT_FULL_REVERT") == "1"
_CI = ("create", "copy", "cleanup")
CASES = [(step, "after") for step in STEPS if _FULL or step in _CI] + [
    (step, "before") for step in STEPS if _FULL or step == "copy"]


@pytest.fixture(scope="module")
def source(cloud: Layout) -> Iterator[Source]:
    """One running server every case tries to move (a reverted run leaves it as it found it)."""
    with fresh_source("revert", 72) as made:
        yield made


@pytest.mark.parametrize(("step", "when"), CASES)
def test_failure_at_any_step_leaves_both_clouds_as_they_were(source: Source, tmp_path: Path, step: str,
                                                              when: str) -> None:
    """No server, port, image, keypair, security group, rule, network or flavor is left or lost, and
    the source is running again."""
    before = both_clouds()

    record = run_forklift(tmp_path, source.id, mode="image", inject=f"{step}:{when}")

    assert record.state is RunState.REVERTED, [(t.path, t.error) for t in record.tasks if t.error]
    assert both_clouds() == before
    assert clouds.connect(SOURCE).compute.get_server(source.id).status == "ACTIVE"
