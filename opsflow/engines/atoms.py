"""The TaskFlow atoms opsflow builds from a definition.

* :class:`ActionAtom` evaluates a task's ``${...}`` arguments from the values TaskFlow hands it and
  calls the action; it also applies timeouts, injected failures and compensating reverts.
* :class:`ValueAtom` computes a value from other results: a sub-flow's inputs or its outputs.
* :class:`GatherAtom` collects a fan-out's item results into one list, in item order.
* :class:`PolicyRetry` decides what a failure means: try again (retry policy), stop for an operator
  (``on_failure: pause``), sleep durably (a pending ``core.wait``), or revert everything.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from taskflow import retry, task
from taskflow.types import failure as tf_failure

from opsflow import registry
from opsflow.errors import FailedBeforeActing, InjectedFailure, TaskTimeout
from opsflow.flows import expressions
from opsflow.flows.model import RetrySpec, RevertSpec
from opsflow.tasks.base import Clock, RunContext, SystemClock, WaitPending

__all__ = [
    "ActionAtom",
    "FailurePoint",
    "GatherAtom",
    "PolicyRetry",
    "RunOptions",
    "Scope",
    "ValueAtom",
]

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class FailurePoint:
    """Where to inject a failure: tasks whose path matches ``pattern`` (fnmatch), before or after acting."""

    #: A task path or glob, e.g. ``copy`` or ``migrate[*].copy``.
    pattern: str
    #: ``after`` (the action ran, then the task fails: the worst case for revert) or ``before``.
    when: str = "after"

    @classmethod
    def parse(cls, text: str) -> FailurePoint:
        """``PATH`` or ``PATH:before`` / ``PATH:after``."""
        pattern, _, when = text.partition(":")
        if when not in ("", "before", "after"):
            raise ValueError(f"--inject-failure {text!r}: say PATH, PATH:before or PATH:after")
        return cls(pattern, when or "after")

    def matches(self, path: str, when: str) -> bool:
        """True when a task at ``path`` must fail at moment ``when``."""
        # Task paths contain [n]; only * and ? are wildcards here, so brackets match themselves.
        return when == self.when and fnmatch.fnmatchcase(path, self.pattern.replace("[", "[[]"))


@dataclasses.dataclass
class RunOptions:
    """Per-run settings every atom of the run shares (not persisted; set again on resume)."""

    #: The run's id.
    run_id: str
    #: Wall clock, injectable for tests.
    clock: Clock = dataclasses.field(default_factory=SystemClock)
    #: Failures to inject, for testing reverts.
    failure_points: tuple[FailurePoint, ...] = ()
    #: Asks the engine to stop scheduling new work (pause and waits).
    request_suspend: Callable[[], None] = lambda: None
    #: Reads and writes durable per-task memory (flow metadata); set by the runner.
    memory: Callable[[str, str, Any], Any] | None = None
    #: Signals delivered to the run.
    signals: Callable[[], frozenset[str]] = lambda: frozenset()
    #: Set once a pause was requested, so the runner can tell a pause from a wait.
    paused: threading.Event = dataclasses.field(default_factory=threading.Event)
    #: Retry name -> length of its stored history when this engine run began. On resume TaskFlow
    #: hands the stored failure to the retry again; that one has been dealt with (the operator
    #: resumed, or the wait is being re-checked), so it is retried rather than paused on twice.
    resumed_histories: Mapping[str, int] = dataclasses.field(default_factory=dict)
    #: Stores and starts child runs (an ``opsflow.engines.children.ChildRuns``); set by the runner.
    children: Any = None
    #: Tasks stored RUNNING when this engine run began: their owner stopped (killed, lost the run)
    #: while they acted. A revert undoes them too -- their revert finds what the attempt made by
    #: its tag -- while a task that never started is never reverted.
    interrupted: frozenset[str] = frozenset()
    #: Set once any retry decided to revert everything. From then on every retry's answer is to
    #: revert everything too: TaskFlow would otherwise rewind a retried task's scope to run again
    #: *after* the flow-wide revert marked it for revert, leaving those atoms pending to execute
    #: while everything else is undone -- the run then stops half undone, still RUNNING ("Flow
    #: transition from RUNNING to SUSPENDED is not allowed"), and tasks that never started get
    #: reverted on the way.
    reverting_all: threading.Event = dataclasses.field(default_factory=threading.Event)
    #: Tasks that ever started acting (stored as started when the engine run began, or executed
    #: since). Only those are reverted: undoing a task that never ran could undo what another
    #: attempt of the same tag owns.
    started: set[str] = dataclasses.field(default_factory=set)

    def fails(self, path: str, when: str) -> bool:
        """True when an injected failure applies."""
        return any(point.matches(path, when) for point in self.failure_points)


@dataclasses.dataclass(frozen=True)
class Scope:
    """Where an atom's references point: storage symbols for inputs and tasks, constants for items."""

    #: Storage symbol holding the inputs mapping of this (sub-)flow instance.
    inputs_symbol: str
    #: Prefix of task result symbols in this instance (``""`` at the top, ``"migrate[0]."`` below).
    prefix: str
    #: ``item``/``index`` of a fan-out item, when inside one.
    constants: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def symbol(self, ref: expressions.Reference) -> str | None:
        """The storage symbol a reference needs, or None for a constant."""
        if ref.root == "inputs":
            return self.inputs_symbol
        if ref.root == "tasks":
            return f"{self.prefix}{ref.head}"
        return None

    def symbols(self, *values: Any) -> list[str]:
        """Every storage symbol the compiled values need, without duplicates."""
        found: dict[str, None] = {}
        for value in values:
            for ref in expressions.references_of(value):
                symbol = self.symbol(ref)
                if symbol is not None:
                    found[symbol] = None
        return list(found)

    def evaluate(self, value: Any, symbols: Mapping[str, Any], extra_tasks: Mapping[str, Any] | None = None) -> Any:
        """Evaluate a compiled value with the symbol values TaskFlow passed in."""
        tasks = {key[len(self.prefix):]: val for key, val in symbols.items() if key.startswith(self.prefix)}
        tasks.update(extra_tasks or {})
        namespace = {"inputs": symbols.get(self.inputs_symbol, {}), "tasks": tasks, **self.constants}
        return expressions.evaluate_value(value, namespace)


def _limits(inputs: Any) -> Mapping[str, Any]:
    """The flow's ``limits`` input when it has one (see :attr:`RunContext.limits`)."""
    limits = inputs.get("limits") if isinstance(inputs, Mapping) else None
    return limits if isinstance(limits, Mapping) else {}


class ActionAtom(task.Task):  # type: ignore[misc]
    """Runs one action with arguments evaluated from expressions."""

    def __init__(
        self,
        path: str,
        action: str,
        args: Mapping[str, Any],
        scope: Scope,
        options: RunOptions,
        *,
        revert_spec: RevertSpec = RevertSpec(),
        timeout: float | None = None,
        attempt_symbol: str | None = None,
        after: tuple[str, ...] = (),
    ) -> None:
        # A compensating action may use the task's own result; that is handed over at revert time.
        # Requiring the instance's inputs symbol keeps every task of a sub-flow behind its gate (the
        # atom that computes those inputs), and ``after`` symbols order tasks that share no data.
        referenced = scope.symbols(dict(args), dict(revert_spec.args))
        requires = list(dict.fromkeys([scope.inputs_symbol, *referenced, *after]))
        requires = [symbol for symbol in requires if symbol != path]
        if attempt_symbol:
            requires.append(attempt_symbol)
        super().__init__(name=path, provides=path, requires=requires)
        self._action_class = registry.fetch(registry.ACTIONS, action)
        self._args = args
        self._scope = scope
        self._options = options
        self._revert_spec = revert_spec
        self._timeout = timeout
        self._attempt_symbol = attempt_symbol

    def _make(self, action: str | None, symbols: Mapping[str, Any]) -> Any:
        cls = self._action_class if action is None else registry.fetch(registry.ACTIONS, action)
        instance = cls(name=self.name)
        # During a revert TaskFlow may hand over the retry's history instead of its last result.
        attempt = symbols.get(self._attempt_symbol, 1) if self._attempt_symbol else 1
        attempt = attempt if isinstance(attempt, int) else 1
        deadline = time.monotonic() + self._timeout if self._timeout else None
        options = self._options
        memory = options.memory
        instance.context = RunContext(
            run_id=options.run_id,
            task_path=self.name,
            attempt=attempt,
            deadline=deadline,
            clock=options.clock,
            remember=(lambda key, value: memory(self.name, key, value)) if memory is not None else None,
            signals=options.signals,
            limits=_limits(symbols.get(self._scope.inputs_symbol)),
        )
        return instance

    def execute(self, **symbols: Any) -> Any:
        """Evaluate the arguments, run the action, then apply timeout and injected failures."""
        if self._options.fails(self.name, "before"):
            if self.name in self._options.interrupted:
                # It may have made something before its owner stopped: fail so that it is reverted.
                raise InjectedFailure(f"{self.name}: was running when its run stopped; undoing that attempt")
            raise FailedBeforeActing(f"{self.name}: failure injected before the action")
        action = self._make(None, symbols)
        args = self._scope.evaluate(self._args, symbols)
        self._options.started.add(self.name)
        LOG.info("%s: executing (try %d, run %s)", self.name, action.context.attempt, action.context.run_id)
        result = action.execute(**args)
        if self._timeout is not None and time.monotonic() > action.context.deadline:
            raise TaskTimeout(f"{self.name}: took longer than its timeout of {self._timeout} s")
        if self._options.fails(self.name, "after"):
            raise InjectedFailure(f"{self.name}: failure injected after the action")
        return result

    def revert(self, result: Any, flow_failures: Mapping[str, Any], **symbols: Any) -> None:
        """Undo the task: its own revert(), its compensating action, or nothing if irreversible."""
        spec = self._revert_spec
        if isinstance(result, tf_failure.Failure) and result.check(FailedBeforeActing):
            return
        if self.name not in self._options.started and self.name not in self._options.interrupted:
            LOG.debug("%s never started: nothing to revert", self.name)
            return
        if spec.irreversible:
            LOG.warning("%s is irreversible: its effects stay in place", self.name)
            return
        LOG.info("%s: reverting", self.name)
        if isinstance(result, tf_failure.Failure):
            result = None
        if spec.action is not None:
            own = {self.name[len(self._scope.prefix):]: result}
            args = self._scope.evaluate(spec.args, symbols, extra_tasks=own)
            self._make(spec.action, symbols).execute(**args)
            return
        args = self._scope.evaluate(self._args, symbols)
        self._make(None, symbols).revert(result=result, flow_failures=flow_failures, **args)


class ValueAtom(task.Task):  # type: ignore[misc]
    """Computes a value from other symbols: a sub-flow's inputs or its outputs."""

    def __init__(self, name: str, provides: str, value: Any, scope: Scope, after: tuple[str, ...] = ()) -> None:
        super().__init__(name=name, provides=provides, requires=list(dict.fromkeys([*scope.symbols(value), *after])))
        self._value = value
        self._scope = scope

    def execute(self, **symbols: Any) -> Any:
        """The evaluated value."""
        return self._scope.evaluate(self._value, symbols)

    def revert(self, *args: Any, **kwargs: Any) -> None:
        """Computing a value has no effect to undo."""


class GatherAtom(task.Task):  # type: ignore[misc]
    """Collects the results of a fan-out's items into one list, in item order."""

    def __init__(self, name: str, item_symbols: list[str]) -> None:
        super().__init__(name=name, provides=name, requires=item_symbols)
        self._item_symbols = item_symbols

    def execute(self, **symbols: Any) -> list[Any]:
        """The items' results, in order."""
        return [symbols[symbol] for symbol in self._item_symbols]

    def revert(self, *args: Any, **kwargs: Any) -> None:
        """Nothing to undo."""


def _raised_one_of(failure: tf_failure.Failure, names: tuple[str, ...]) -> bool:
    """True when the failure's exception is (a subclass of) a class named in ``names`` (short or dotted)."""
    for qualified in failure.to_dict()["exc_type_names"]:
        if qualified in names or qualified.rsplit(".", 1)[-1] in names:
            return True
    return False


class PolicyRetry(retry.Retry):  # type: ignore[misc]
    """One task's failure policy: retries with backoff, pause for an operator, durable waits.

    Returns the try number, which the task reads as ``context.attempt``.
    """

    def __init__(self, name: str, options: RunOptions, spec: RetrySpec | None, pause: bool) -> None:
        super().__init__(name=name, provides=name)
        self._options = options
        self._spec = spec
        self._pause = pause

    def _last_failure(self, history: Any) -> tf_failure.Failure | None:
        if not len(history):
            return None
        failures = history[-1][1]
        return next(iter(failures.values()), None) if failures else None

    def on_failure(self, history: Any, *args: Any, **kwargs: Any) -> retry.Decision:
        """RETRY while the policy allows; pause or revert everything when it is exhausted."""
        last = self._last_failure(history)
        if self._options.reverting_all.is_set():
            return retry.REVERT_ALL  # another task's failure already decided the run's fate
        if len(history) and self._options.resumed_histories.get(self.name) == len(history):
            return retry.RETRY
        if last is not None and last.check(WaitPending):
            self._options.request_suspend()
            return retry.RETRY
        spec = self._spec
        tries = len(history)
        if spec is not None and tries < spec.attempts and (not spec.on or last is None or _raised_one_of(last, spec.on)):
            return retry.RETRY
        if self._pause:
            LOG.warning("%s failed; pausing the run for an operator (resume or revert)", self.name)
            self._options.paused.set()
            self._options.request_suspend()
            return retry.RETRY
        self._options.reverting_all.set()
        return retry.REVERT_ALL

    def execute(self, history: Any, *args: Any, **kwargs: Any) -> int:
        """Sleep the policy's delay before a retry, then return the try number."""
        attempt = len(history) + 1
        last = self._last_failure(history)
        if self._spec is not None and last is not None and not last.check(WaitPending):
            delay = self._spec.delay_before(attempt)
            if delay:
                time.sleep(delay)
        return attempt

    def revert(self, history: Any, *args: Any, **kwargs: Any) -> None:
        """Nothing to undo."""
