"""Fixtures of the forklift suites (helpers in ``harness.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from opsflow import clouds
from opsflow.devcloud.layout import Layout


@pytest.fixture(scope="session")
def cloud(devcloud: Layout) -> Iterator[Layout]:
    """The session's devcloud; opsflow's cached connections are dropped after the session."""
    yield devcloud
    clouds.forget()
