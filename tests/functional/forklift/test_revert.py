"""A failure injected before and after every step of forklift.yaml leaves both clouds as they were."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from opsflow import clouds
from opsflow.devcloud.layout import Layout
from opsflow.engines.records import RunState
from opsflow.flows import loader
from opsflow.flows.resolver import BUILTIN_DIR

from .harness import SOURCE, Source, boot_source, both_clouds, delete_source, run_forklift

pytestmark = [pytest.mark.functional, pytest.mark.slow]

STEPS = [task.name for task in loader.load_file(f"{BUILTIN_DIR}/forklift.yaml").tasks]


@pytest.fixture(scope="module")
def source(cloud: Layout) -> Iterator[Source]:
    """One running server every case tries to move (a reverted run leaves it as it found it)."""
    made = boot_source("revert", cidr_octet=72)
    yield made
    delete_source(made)


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("step", STEPS)
def test_failure_at_any_step_leaves_both_clouds_as_they_were(source: Source, tmp_path: Path, step: str,
                                                              when: str) -> None:
    """No server, port, image, keypair, security group, rule, network or flavor is left or lost, and
    the source is running again."""
    before = both_clouds()

    record = run_forklift(tmp_path, source.id, mode="image", inject=f"{step}:{when}")

    assert record.state is RunState.REVERTED, [(t.path, t.error) for t in record.tasks if t.error]
    assert both_clouds() == before
    assert clouds.connect(SOURCE).compute.get_server(source.id).status == "ACTIVE"
