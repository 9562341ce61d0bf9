"""The atom of a task that starts child runs, and the durable wait it puts its run in.

Each try of the atom looks at its batch afresh and either gathers or waits, so any number of tries
(after a suspension, a kill -9, a conductor taking over) add up to one batch:

1. the items are the referenced task's stored result, the same on every try;
2. child runs not stored yet are stored, with deterministic ids (:mod:`.batch`);
3. when the batch is over, the result is the list of each child's outcome in item order
   (``on_item_failure: revert_all`` with a failed child fails the task instead, and TaskFlow's
   revert of this atom undoes the children that succeeded);
4. otherwise what may start is started and the atom raises :class:`ChildrenPending`, a durable
   wait: the run is suspended, holds no thread, and is tried again when its children end.

Reverting the atom (its own failure, a later task's, or ``opsflow revert`` of the parent) reverts
every child that is not reverted yet.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from taskflow import task
from taskflow.patterns import linear_flow
from taskflow.types import failure as tf_failure

from opsflow.engines.atoms import PolicyRetry, RunOptions, Scope
from opsflow.engines.children.batch import BATCH_KEY, DEFAULT_CONCURRENCY, Batch, ChildEnd, ChildRuns
from opsflow.errors import ActionFailed, ChildRunsFailed, ChildrenPending, FailedBeforeActing, InjectedFailure
from opsflow.flows import inputs as flow_inputs
from opsflow.flows.model import FlowDefinition, OnItemFailure, TaskSpec

__all__ = ["ChildRunsAtom", "compile_batch"]

LOG = logging.getLogger(__name__)


class ChildRunsAtom(task.Task):  # type: ignore[misc]
    """Starts one child run of ``child`` per item, waits for them durably, gathers their outcomes."""

    def __init__(
        self,
        path: str,
        spec: TaskSpec,
        child: FlowDefinition,
        scope: Scope,
        options: RunOptions,
        *,
        attempt_symbol: str,
        after: tuple[str, ...] = (),
    ) -> None:
        referenced = scope.symbols(spec.for_each, dict(spec.args))
        requires = list(dict.fromkeys([scope.inputs_symbol, *referenced, *after, attempt_symbol]))
        super().__init__(name=path, provides=path, requires=requires)
        self._spec = spec
        self._child = child
        self._scope = scope
        self._options = options

    def _batch(self, items: list[Any]) -> Batch:
        return Batch(self._options.run_id, self.name, len(items), self._spec.concurrency or DEFAULT_CONCURRENCY,
                     self._spec.on_item_failure)

    def _items(self, symbols: Mapping[str, Any]) -> list[Any]:
        items = self._scope.evaluate(self._spec.for_each, symbols)
        if not isinstance(items, list):
            raise ActionFailed(f"{self.name}: for_each must give a list, got {type(items).__name__}: {items!r}")
        return items

    def _children(self) -> ChildRuns:
        children: ChildRuns | None = self._options.children
        if children is None:
            raise ActionFailed(f"{self.name}: this engine cannot start child runs (no runner gave it a way to)")
        return children

    def _inputs(self, items: list[Any], symbols: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        values: list[Mapping[str, Any]] = []
        for index, item in enumerate(items):
            scope = dataclasses.replace(self._scope, constants={"item": item, "index": index})
            values.append(flow_inputs.validate(self._child, scope.evaluate(dict(self._spec.args), symbols)))
        return values

    def execute(self, **symbols: Any) -> list[dict[str, Any]]:
        """Gather the children's outcomes when the batch is over; start what may start and wait otherwise."""
        if self._options.fails(self.name, "before"):
            raise FailedBeforeActing(f"{self.name}: failure injected before the action")
        items = self._items(symbols)
        batch = self._batch(items)
        memory = self._options.memory
        if memory is not None:
            memory(self.name, BATCH_KEY, batch.to_json())
            memory(self.name, "due", None)  # what makes the stored run read as waiting
        children = self._children()
        children.create(batch, self._child, self._inputs(items, symbols))
        seen = children.progress(batch)
        if not batch.over(seen):
            children.launch(batch, seen)
            raise ChildrenPending(self.name, len(seen.running), batch.count - len(seen.ended))
        results = [children.result(batch, index, item) for index, item in enumerate(items)]
        failed = [entry for entry in results if entry["state"] != ChildEnd.SUCCEEDED.value]
        LOG.info("%s: %d child runs gathered, %d failed", self.name, len(results), len(failed))
        if failed and batch.on_item_failure is OnItemFailure.REVERT_ALL:
            first = failed[0]
            raise ChildRunsFailed(f"{self.name}: child run {first['run_id']} (item {first['item']!r}) "
                                  f"{first['state']}: {first['error']}; reverting the whole batch")
        if self._options.fails(self.name, "after"):
            raise InjectedFailure(f"{self.name}: failure injected after the action")
        return results

    def revert(self, result: Any, flow_failures: Mapping[str, Any], **symbols: Any) -> None:
        """Revert every child of the batch that is not reverted yet."""
        if isinstance(result, tf_failure.Failure) and result.check(ChildrenPending):
            return  # the policy rewinding a waiting try before the next one: nothing is undone
        try:
            items = self._items(symbols)
        except Exception as exc:  # the items never existed, so neither did any child
            LOG.info("%s: no items to revert (%s)", self.name, exc)
            return
        LOG.info("%s: reverting", self.name)
        self._children().revert(self._batch(items))


def compile_batch(definition: FlowDefinition, spec: TaskSpec, path: str, scope: Scope, options: RunOptions,
                  pause: bool) -> linear_flow.Flow:
    """The TaskFlow pattern of a child-runs task: its atom under a policy that suspends while it waits."""
    retry_name = path + "#retry"
    atom = ChildRunsAtom(path, spec, definition.subflows[spec.flow or ""], scope, options,
                         attempt_symbol=retry_name, after=tuple(scope.prefix + name for name in spec.after))
    return linear_flow.Flow(path + "#try", retry=PolicyRetry(retry_name, options, None, pause)).add(atom)
