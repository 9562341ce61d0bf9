"""``core.wait``: a durable wait that holds no thread while it waits.

The first try works out when the wait is over and stores that in the run's durable memory. Until
then every try raises :class:`~opsflow.tasks.base.WaitPending`, which suspends the run: nothing
runs and nothing is held; whoever owns the run (``opsflow run``, a conductor) resumes it when due
or when the named signal arrives, and the wait finishes. Because the due time is stored, restarts
do not make the wait start over.
"""

from __future__ import annotations

import datetime
from typing import Any

from opsflow.tasks.base import Action, WaitPending

__all__ = ["Wait"]


class Wait(Action):
    """Wait for a duration, until a time, and/or until a signal (``opsflow signal RUN NAME``)."""

    suspends = True
    argument_schema = {
        "seconds": {"minimum": 0},
        "until": {"format": "date-time", "description": "an ISO 8601 time such as 2026-12-24T18:00:00+00:00"},
        "signal": {"pattern": r"^[A-Za-z0-9_.:-]{1,100}$",
                   "description": "a signal name of letters, digits and _ . : -"},
    }

    def execute(self, seconds: float | None = None, until: str | None = None, signal: str | None = None) -> dict[str, Any]:
        """Return how the wait ended; raise WaitPending while it is not over."""
        ctx = self.context
        due = self._due(seconds, until)
        if ctx.remember is not None:
            due = ctx.remember("due", due)
            ctx.remember("signal", signal)
        if signal is not None and signal in ctx.signals():
            return {"ended_by": "signal", "signal": signal}
        if due is not None and ctx.clock.now() >= due:
            return {"ended_by": "time", "due": due}
        if due is None and signal is None:
            return {"ended_by": "time", "due": None}
        raise WaitPending(ctx.task_path, due, signal)

    def _due(self, seconds: float | None, until: str | None) -> float | None:
        if until is not None:
            moment = datetime.datetime.fromisoformat(until)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=datetime.timezone.utc)
            return moment.timestamp()
        if seconds is not None:
            return self.context.clock.now() + float(seconds)
        return None

    def revert(self, **kwargs: Any) -> None:
        """Waiting changed nothing."""
