"""Fixtures for engine tests: a runner on a fresh SQLite file, a controllable clock, a task journal."""

import logging
from collections.abc import Iterator

import pytest

from opsflow.engines.runner import Runner


class FakeClock:
    """A wall clock that only moves when the test says so."""

    def __init__(self) -> None:
        self.time = 1_800_000_000.0

    def now(self) -> float:
        return self.time

    def advance(self, seconds: float) -> None:
        self.time += seconds


class Journal:
    """What the engine logged it executed and reverted, in order (from opsflow.engines.atoms)."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self._caplog = caplog

    def _paths(self, verb: str) -> list[str]:
        return [
            record.args[0]  # type: ignore[index]
            for record in self._caplog.records
            if record.name == "opsflow.engines.atoms" and record.msg.startswith(f"%s: {verb}")
        ]

    @property
    def executed(self) -> list[str]:
        return self._paths("executing")

    @property
    def reverted(self) -> list[str]:
        return self._paths("reverting")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def runner(tmp_path, clock: FakeClock) -> Iterator[Runner]:
    with Runner(f"sqlite:///{tmp_path}/state.db", clock=clock, max_workers=4) as runner:
        yield runner


@pytest.fixture
def journal(caplog: pytest.LogCaptureFixture) -> Journal:
    caplog.set_level(logging.INFO, logger="opsflow.engines.atoms")
    return Journal(caplog)
