"""Compile a loaded definition, with its inputs, into a TaskFlow flow (patterns and atoms).

Not to be confused with :mod:`opsflow.engines.pattern_compiler`, which TaskFlow's engine uses to
turn those patterns into an execution graph; this module is where the flow language meets TaskFlow.

Every task becomes an atom named by its path (``copy``, ``migrate[3].copy``): stable names are what
let a resumed run, on any machine, find each task's stored state. Data dependencies come from the
``${...}`` references (TaskFlow links providers to requirers); ``after:`` is expressed the same
way, as a requirement of the earlier task's result symbol, because TaskFlow's ``link()`` copies the
whole graph per call (quadratic in flow size) while requirements resolve in one ``add()``;
``for_each`` is expanded here because its list is known once the inputs are, and a task gets a
:class:`~opsflow.engines.atoms.PolicyRetry` only when it needs one (retry, pause, or a wait), so
plain tasks cost one atom each.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from taskflow import flow as tf_flow
from taskflow.patterns import graph_flow, linear_flow, unordered_flow

from opsflow import registry
from opsflow.errors import DefinitionError
from opsflow.engines import atoms
from opsflow.engines.children import compile_batch
from opsflow.engines.atoms import RunOptions, Scope
from opsflow.flows import expressions
from opsflow.flows.expressions import Expression
from opsflow.flows.model import FlowDefinition, OnFailure, TaskSpec

__all__ = ["CompiledFlow", "INPUTS_SYMBOL", "compile_flow"]

#: Storage symbol holding the top-level inputs.
INPUTS_SYMBOL = "inputs"

_UNKNOWN: Any = object()


@dataclasses.dataclass(frozen=True)
class CompiledFlow:
    """A TaskFlow flow ready for an engine, and what to put in its store."""

    #: The root TaskFlow flow.
    flow: tf_flow.Flow
    #: Values the engine's storage must hold before running (the inputs).
    store: dict[str, Any]
    #: How many atoms the flow has (tasks plus bookkeeping atoms).
    atom_count: int
    #: How many of them stand for a task of a definition: actions, fan-outs and sub-flows
    #: (what a progress display counts; bookkeeping atoms have a ``#`` in their names).
    task_count: int
    #: Paths of the tasks that run an action (where a failure can be injected).
    actions: tuple[str, ...] = ()
    #: Paths of fan-outs and sub-flow tasks (which run no action themselves).
    containers: tuple[str, ...] = ()
    #: Child-run tasks: their path and the definition each child runs (its tasks exist only at run time).
    batches: tuple[tuple[str, FlowDefinition], ...] = ()


def compile_flow(definition: FlowDefinition, inputs: Mapping[str, Any], options: RunOptions) -> CompiledFlow:
    """Build the TaskFlow graph of ``definition`` for these (validated) inputs."""
    builder = _Builder(options, pause=definition.on_failure is OnFailure.PAUSE)
    root = builder.instance(definition, prefix="", inputs_symbol=INPUTS_SYMBOL, static_inputs=dict(inputs))
    return CompiledFlow(
        flow=root, store={INPUTS_SYMBOL: dict(inputs)}, atom_count=builder.atom_count, task_count=builder.task_count,
        actions=tuple(builder.actions), containers=tuple(builder.containers), batches=tuple(builder.batches),
    )


class _Builder:
    def __init__(self, options: RunOptions, pause: bool) -> None:
        self._options = options
        self._pause = pause
        self.atom_count = 0
        self.task_count = 0
        self.actions: list[str] = []
        self.containers: list[str] = []
        self.batches: list[tuple[str, FlowDefinition]] = []

    def instance(
        self, definition: FlowDefinition, prefix: str, inputs_symbol: str, static_inputs: Mapping[str, Any]
    ) -> graph_flow.Flow:
        """One instance of a definition; its tasks' paths start with ``prefix``."""
        flow = graph_flow.Flow(prefix.rstrip(".") or definition.name)
        scope = Scope(inputs_symbol=inputs_symbol, prefix=prefix)
        members: list[Any] = []
        for spec in definition.tasks:
            members.extend(self._task(definition, spec, scope, static_inputs))
        flow.add(*members)
        return flow

    def _task(
        self, definition: FlowDefinition, spec: TaskSpec, scope: Scope, static_inputs: Mapping[str, Any]
    ) -> list[Any]:
        path = scope.prefix + spec.name
        if spec.child_runs:
            self.atom_count += 2
            self.task_count += 1
            self.actions.append(path)  # the batch task itself may be made to fail, before or after
            assert spec.flow is not None  # child_runs implies a flow
            self.batches.append((path, definition.subflows[spec.flow]))
            return [compile_batch(definition, spec, path, scope, self._options, self._pause)]
        if spec.for_each is None:
            return [self._single(definition, spec, path, scope, static_inputs)]
        items = self._items(definition, spec, static_inputs)
        children = [
            self._single(definition, spec, f"{path}[{index}]",
                         dataclasses.replace(scope, constants={"item": item, "index": index}), static_inputs)
            for index, item in enumerate(items)
        ]
        lanes = spec.concurrency or len(children) or 1
        if lanes < len(children):
            # A lane runs its items one after another, so at most `lanes` items run at once.
            container = unordered_flow.Flow(path + "#lanes")
            for lane in range(lanes):
                container.add(linear_flow.Flow(f"{path}#lane{lane}").add(*children[lane::lanes]))
        else:
            container = unordered_flow.Flow(path + "#items").add(*children)
        gather = atoms.GatherAtom(path, [f"{path}[{index}]" for index in range(len(children))])
        self.containers.append(path)
        self.atom_count += 1
        self.task_count += 1
        return [container, gather]

    def _items(self, definition: FlowDefinition, spec: TaskSpec, static_inputs: Mapping[str, Any]) -> list[Any]:
        value = spec.for_each
        if isinstance(value, Expression):
            ref = value.references[0]
            if static_inputs.get(ref.head or "", _UNKNOWN) is _UNKNOWN:
                raise DefinitionError(
                    f"for_each of task {spec.name!r} uses input {ref.head!r}, which is only known while "
                    f"the flow runs; pass that input a literal or an input of the calling flow",
                    source=definition.source, line=spec.position[0], column=spec.position[1],
                )
            value = expressions.evaluate_value(value, {"inputs": static_inputs})
        if not isinstance(value, list):
            raise DefinitionError(
                f"for_each of task {spec.name!r} must give a list, got {type(value).__name__}",
                source=definition.source, line=spec.position[0], column=spec.position[1],
            )
        return value

    def _single(
        self, definition: FlowDefinition, spec: TaskSpec, path: str, scope: Scope, static_inputs: Mapping[str, Any]
    ) -> Any:
        after = tuple(scope.prefix + name for name in spec.after)
        needs_retry = spec.retry is not None or self._pause
        if spec.action is not None:
            suspends = getattr(registry.fetch(registry.ACTIONS, spec.action), "suspends", False)
            needs_retry = needs_retry or suspends
            retry_name = path + "#retry" if needs_retry else None
            atom = atoms.ActionAtom(
                path, spec.action, spec.args, scope, self._options,
                revert_spec=spec.revert, timeout=spec.timeout, attempt_symbol=retry_name, after=after,
            )
            self.actions.append(path)
            self.atom_count += 1
            self.task_count += 1
            if retry_name is None:
                return atom
            self.atom_count += 1
            policy = atoms.PolicyRetry(retry_name, self._options, spec.retry, self._pause)
            return linear_flow.Flow(path + "#try", retry=policy).add(atom)
        sub = definition.subflows[spec.flow or ""]
        inputs_symbol = path + "/inputs"
        static = self._static_args(spec, scope, static_inputs)
        inner = self.instance(sub, prefix=path + ".", inputs_symbol=inputs_symbol, static_inputs=static)
        inputs_atom = atoms.ValueAtom(path + "#inputs", inputs_symbol, self._with_defaults(sub, spec), scope, after)
        # Named by the task's own path: its state is the sub-flow task's state, its result the outputs.
        outputs_atom = atoms.ValueAtom(
            path, path, dict(sub.outputs), Scope(inputs_symbol=inputs_symbol, prefix=path + ".")
        )
        self.containers.append(path)
        self.atom_count += 2
        self.task_count += 1
        retry = atoms.PolicyRetry(path + "#retry", self._options, spec.retry, self._pause) if spec.retry else None
        if retry is not None:
            self.atom_count += 1
        return graph_flow.Flow(path + "#flow", retry=retry).add(inputs_atom, inner, outputs_atom)

    def _with_defaults(self, sub: FlowDefinition, spec: TaskSpec) -> dict[str, Any]:
        values = {inp.name: inp.default for inp in sub.inputs if not inp.required}
        values.update(spec.args)
        return values

    def _static_args(self, spec: TaskSpec, scope: Scope, static_inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Sub-flow inputs known before the run: literals and references to known inputs or items."""
        known: dict[str, Any] = {}
        namespace = {"inputs": static_inputs, **scope.constants}
        for name, value in spec.args.items():
            refs = expressions.references_of(value)
            if all(ref.root in ("item", "index") or (ref.root == "inputs" and ref.head in static_inputs)
                   for ref in refs):
                known[name] = expressions.evaluate_value(value, namespace)
        return known
