"""Generic actions that prove the engine without any cloud: noop, echo, fail and sleep."""

from __future__ import annotations

import logging
import time
from typing import Any

from opsflow.errors import ActionFailed
from opsflow.tasks.base import Action

__all__ = ["Echo", "Fail", "Noop", "Sleep"]

LOG = logging.getLogger(__name__)


class Noop(Action):
    """Does nothing; useful as a join point or to measure engine overhead."""

    def execute(self) -> None:
        """Nothing to do."""

    def revert(self, **kwargs: Any) -> None:
        """Nothing to undo."""


class Echo(Action):
    """Returns its message, so later tasks can reference it; logs it and its revert."""

    def execute(self, message: Any = None) -> Any:
        """Return ``message`` unchanged."""
        LOG.info("%s: %s", self.name, message)
        return message

    def revert(self, message: Any = None, **kwargs: Any) -> None:
        """Log that the echo was undone (there is nothing else to undo)."""
        LOG.info("%s: reverted %s", self.name, message)


class Fail(Action):
    """Fails on purpose, for failure injection; ``times`` lets the first tries fail and later ones pass."""

    argument_schema = {"times": {"minimum": 0}}

    def execute(self, message: str = "injected failure", times: int = 0) -> None:
        """Raise ActionFailed, unless ``times`` > 0 and this try is past the first ``times`` tries."""
        attempt = self.context.attempt if hasattr(self, "context") else 1
        if times and attempt > times:
            return
        raise ActionFailed(f"{self.name}: {message} (try {attempt})")

    def revert(self, **kwargs: Any) -> None:
        """Nothing to undo: the task never did anything."""


class Sleep(Action):
    """Sleeps for a number of seconds (holding a worker; use core.wait for long waits)."""

    argument_schema = {"seconds": {"minimum": 0}}

    def execute(self, seconds: float = 1.0) -> float:
        """Sleep, then return how long it slept."""
        time.sleep(seconds)
        return seconds

    def revert(self, **kwargs: Any) -> None:
        """Nothing to undo."""
