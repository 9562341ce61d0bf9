"""The contract between actions and the engine: who a task is, which try this is, the clock, waits.

Actions are ordinary TaskFlow task classes (``execute``/``revert``); opsflow sets
:attr:`Action.context` before each call so an action can tag what it creates with the run and task
that made it — the key that lets a re-run after a crash find and adopt an earlier attempt's work.
An action that must wait durably raises :class:`WaitPending` (defined in the one error tree,
:mod:`opsflow.errors`, and exported here as part of the contract). This module imports nothing of
the engine: the engine depends on the contract, never the other way round.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Protocol

from taskflow import task

from opsflow.errors import WaitPending

__all__ = ["Action", "Clock", "RunContext", "SystemClock", "WaitPending"]


class Clock(Protocol):
    """Wall-clock time in seconds since the epoch; tests inject a controllable one."""

    def now(self) -> float:
        """The current time."""


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        """``time.time()``."""
        return time.time()


@dataclasses.dataclass
class RunContext:
    """Facts about the current execution of one task, set by the engine before each call."""

    #: The run (flow detail) id; stable across resumes and conductors.
    run_id: str
    #: The task's full path inside the run, e.g. ``migrate[3].copy``; stable across resumes.
    task_path: str
    #: Which try this is (1 for the first; grows with retries).
    attempt: int = 1
    #: Monotonic deadline of this try, when the task has a timeout.
    deadline: float | None = None
    #: Wall clock (injectable).
    clock: Clock = dataclasses.field(default_factory=SystemClock)
    #: Durable per-task memory that survives suspension and resume (used by waits).
    remember: Callable[[str, Any], Any] | None = None
    #: Signals delivered to this run (``opsflow signal``).
    signals: Callable[[], frozenset[str]] = lambda: frozenset()
    #: The ``limits`` input of the flow this task is part of (forklift's bounds and rates), so that
    #: every action of a run honours them without each task passing them on; empty without one.
    limits: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def tag(self) -> str:
        """A tag naming this run and task, to put on whatever the task creates."""
        return f"opsflow:{self.run_id}:{self.task_path}"

    def time_left(self) -> float | None:
        """Seconds before the deadline, or None without one."""
        if self.deadline is None:
            return None
        return self.deadline - time.monotonic()


class Action(task.Task):  # type: ignore[misc]
    """Base class of opsflow's own actions: a TaskFlow task that knows its :class:`RunContext`.

    Third-party actions may subclass plain ``taskflow.task.Task`` instead; they simply get no context.
    """

    #: Set by the engine before execute() and revert().
    context: RunContext

    #: Narrows what ``execute``'s signature says of each argument: name -> JSON Schema (ranges,
    #: patterns, ``format: date-time``, a ``description`` for messages). The loader checks literal
    #: arguments against signature and schema at load time (:mod:`opsflow.flows.arguments`).
    argument_schema: ClassVar[Mapping[str, Mapping[str, Any]]] = {}

    #: True for an action that may raise :class:`WaitPending` (the compiler gives it a retry atom).
    suspends: ClassVar[bool] = False
