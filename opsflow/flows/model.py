"""The loaded, validated form of a flow definition: frozen dataclasses the compiler consumes."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any

from opsflow.flows.expressions import Expression
from opsflow.flows.yamldoc import Path

__all__ = ["FlowDefinition", "InputSpec", "OnFailure", "OnItemFailure", "RetrySpec", "RevertSpec", "TaskSpec"]

_MISSING: Any = object()


class OnFailure(enum.Enum):
    """What a flow does when a task fails for good."""

    #: Undo the completed steps in reverse dependency order.
    REVERT = "revert"
    #: Stop and keep everything as it is, for an operator to resume or revert.
    PAUSE = "pause"


class OnItemFailure(enum.Enum):
    """What a batch of child runs does when one child fails (the child has reverted itself)."""

    #: Go on with the other items; the failed one is reported in the task's result.
    CONTINUE = "continue"
    #: Start no further items, revert the children that succeeded, and fail the task.
    REVERT_ALL = "revert_all"


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """One declared input."""

    #: The input's name, referenced as ``${inputs.NAME}``.
    name: str
    #: One of :data:`opsflow.flows.schema.INPUT_TYPES`.
    type: str = "any"
    #: Shown by ``opsflow actions``/``graph`` and in errors.
    description: str = ""
    #: Used when the caller gives no value; absent means the input is required.
    default: Any = _MISSING
    #: When set, the only values allowed.
    enum: tuple[Any, ...] | None = None

    @property
    def required(self) -> bool:
        """True when the input has no default."""
        return self.default is _MISSING


@dataclasses.dataclass(frozen=True)
class RetrySpec:
    """How often and how patiently a failing task is tried again."""

    #: Total tries, the first included.
    attempts: int
    #: Seconds before the second try.
    delay: float = 0.0
    #: Factor applied to the delay after every further try.
    backoff: float = 1.0
    #: Upper bound on one delay.
    max_delay: float = 3600.0
    #: Exception class names that may be retried; empty means any.
    on: tuple[str, ...] = ()

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before try number ``attempt`` (1-based; the first try waits 0)."""
        if attempt <= 1:
            return 0.0
        return float(min(self.max_delay, self.delay * self.backoff ** (attempt - 2)))


@dataclasses.dataclass(frozen=True)
class RevertSpec:
    """What undoing a task means."""

    #: True when the step cannot be undone: a later failure stops the revert before it.
    irreversible: bool = False
    #: A compensating action run instead of the task's own ``revert()``.
    action: str | None = None
    #: Arguments of the compensating action (may reference ``tasks.<this task>``).
    args: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """One task of a definition."""

    #: Unique within the definition; results are ``${tasks.NAME}``.
    name: str
    #: Registered action name (``opsflow.tasks`` entry point), or None for a sub-flow.
    action: str | None
    #: Name of another definition run as a sub-flow, or None for an action.
    flow: str | None
    #: Arguments (action) or inputs (sub-flow); strings with ``${}`` are Expressions.
    args: Mapping[str, Any]
    #: Keys the result mapping is promised to have; references are checked against them.
    provides: tuple[str, ...]
    #: Tasks that must finish first although no data links them.
    after: tuple[str, ...]
    #: When set, the task runs once per item of this list (an Expression or a literal list).
    for_each: Expression | list[Any] | None
    #: At most this many items of a fan-out run at once.
    concurrency: int | None
    #: Retry policy, if any.
    retry: RetrySpec | None
    #: Seconds one try may take.
    timeout: float | None
    #: How the task is undone.
    revert: RevertSpec
    #: Where the task stands in its document, for errors found after loading.
    path: Path
    #: Its 1-based line and column in the document, for errors found after loading (compilation).
    position: tuple[int, int] = (1, 1)
    #: For child runs (``for_each`` over a task's result with ``flow:``): what a failed child means.
    on_item_failure: OnItemFailure = OnItemFailure.CONTINUE

    @property
    def child_runs(self) -> bool:
        """True when the task starts one child run of ``flow`` per item of another task's result."""
        return (self.flow is not None and isinstance(self.for_each, Expression)
                and self.for_each.references[0].root == "tasks")


@dataclasses.dataclass(frozen=True)
class FlowDefinition:
    """A whole validated definition, with every sub-flow it uses already loaded."""

    #: The flow's name.
    name: str
    #: What it is for.
    description: str
    #: Declared inputs, in document order.
    inputs: tuple[InputSpec, ...]
    #: Output name -> value (may hold Expressions over tasks and inputs).
    outputs: Mapping[str, Any]
    #: Revert or pause when a task fails for good.
    on_failure: OnFailure
    #: The tasks, in document order.
    tasks: tuple[TaskSpec, ...]
    #: Definitions used as sub-flows, by the name tasks give in ``flow:``.
    subflows: Mapping[str, FlowDefinition]
    #: The file (or ``<string>``) it was loaded from.
    source: str
    #: The YAML text itself, so a stored run can be rebuilt without the file.
    text: str
    #: Tasks counting each use of a sub-flow (and each item of a literal ``for_each``) anew.
    task_total: int = 0
    #: Inputs that must be known when a run starts: a ``for_each`` expands them, here or below.
    static_inputs: frozenset[str] = frozenset()

    def task(self, name: str) -> TaskSpec:
        """The task called ``name``."""
        for spec in self.tasks:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def sources(self) -> dict[str, str]:
        """Name -> YAML text of this definition and every sub-flow, for storing with a run."""
        texts = {self.name: self.text}
        for sub in self.subflows.values():
            texts.update(sub.sources())
        return texts
