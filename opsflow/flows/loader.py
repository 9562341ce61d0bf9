"""Load and validate a flow definition: everything that can be wrong is found here, before a run.

Checks, in order: YAML syntax, the JSON schema, input declarations, each task's action or sub-flow
and its arguments, every ``${...}`` reference, ``after:`` names, and finally that the dependency
graph has no cycle. Every failure is a :class:`DefinitionError` with ``file:line:col``.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import jsonschema
import networkx

from opsflow import registry
from opsflow.flows import arguments, expressions, resolver as resolvers, schema, violations
from opsflow.errors import ExpressionError, PluginNotFound
from opsflow.flows.expressions import Expression, Reference
from opsflow.flows.model import FlowDefinition, InputSpec, OnFailure, OnItemFailure, RetrySpec, RevertSpec, TaskSpec
from opsflow.flows.yamldoc import Document, Path, parse, read_text

__all__ = ["MAX_TASKS", "dependency_graph", "load_file", "load_text"]

_VALIDATOR = jsonschema.Draft202012Validator(schema.DEFINITION_SCHEMA)

#: Tasks one definition may hold, counting each use of a sub-flow anew: sub-flows that use others
#: several times multiply, and both loading and compiling grow with the product (and beyond this,
#: work known at run time belongs in child runs).
MAX_TASKS = 10_000


def load_file(path: str, resolver: resolvers.Resolver | None = None) -> FlowDefinition:
    """Load the definition in ``path`` and every sub-flow it uses."""
    return load_text(read_text(path), path, resolver)


def load_text(
    text: str, source: str = "<string>", resolver: resolvers.Resolver | None = None
) -> FlowDefinition:
    """Load a definition from YAML text; ``source`` names it in errors and resolves sub-flows."""
    return _Loader(resolver or resolvers.FileResolver(), (), {}).load(text, source)


def dependency_graph(definition: FlowDefinition) -> networkx.DiGraph:
    """Task -> dependent-task edges from data references, ``for_each`` and ``after:``."""
    graph = networkx.DiGraph()
    for task in definition.tasks:
        graph.add_node(task.name)
    for task in definition.tasks:
        for upstream in _upstream(task):
            graph.add_edge(upstream, task.name)
    return graph


def _static_inputs(tasks: list[TaskSpec], subflows: Mapping[str, FlowDefinition]) -> frozenset[str]:
    """Inputs a ``for_each`` expands, here or (passed on as arguments) in a sub-flow at any depth."""
    refs = []
    for task in tasks:
        refs += expressions.references_of(task.for_each)
        if task.flow is not None:
            inner = subflows[task.flow].static_inputs & set(task.args)
            refs += [ref for name in inner for ref in expressions.references_of(task.args[name])]
    return frozenset(ref.head for ref in refs if ref.root == "inputs" and ref.head)


def _upstream(task: TaskSpec) -> list[str]:
    refs = expressions.references_of(dict(task.args)) + expressions.references_of(task.for_each)
    names = [ref.head for ref in refs if ref.root == "tasks" and ref.head]
    return list(dict.fromkeys(names + list(task.after)))


class _Loader:
    def __init__(
        self, resolver: resolvers.Resolver, stack: tuple[str, ...], loaded: dict[tuple[str, str], FlowDefinition]
    ) -> None:
        self._resolver = resolver
        self._stack = stack
        #: Sub-flows already loaded in this tree, by (source, text): a sub-flow used many times over
        #: is read once, so loading stays linear in the distinct definitions.
        self._loaded = loaded

    def load(self, text: str, source: str) -> FlowDefinition:
        doc = parse(text, source)
        self._check_schema(doc)
        body: dict[str, Any] = doc.value
        inputs = tuple(self._input(doc, name, spec) for name, spec in (body.get("inputs") or {}).items())
        subflows: dict[str, FlowDefinition] = {}
        declared = {spec.name: spec for spec in inputs}
        tasks: list[TaskSpec] = []
        total = 0
        for index, raw in enumerate(body["tasks"]):
            task = self._task(doc, index, raw, subflows, declared)
            uses = len(task.for_each) if isinstance(task.for_each, list) else 1
            total += uses * (1 + (subflows[task.flow].task_total if task.flow is not None else 0))
            if total > MAX_TASKS:
                raise doc.error(task.path, f"more than {MAX_TASKS} tasks, counting each use of a sub-flow; use "
                                f"fewer sub-flow uses, or child runs for work known at run time")
            tasks.append(task)
        outputs = self._compile(doc, ("outputs",), body.get("outputs") or {})
        definition = FlowDefinition(
            name=body["name"],
            description=body.get("description", ""),
            inputs=inputs,
            outputs=outputs,
            on_failure=OnFailure(body.get("on_failure", "revert")),
            tasks=tuple(tasks),
            subflows=subflows,
            source=source,
            text=text,
            task_total=total,
            static_inputs=_static_inputs(tasks, subflows),
        )
        self._check_references(doc, definition)
        self._check_acyclic(doc, definition)
        return definition

    # -- schema -------------------------------------------------------------------------------

    def _check_schema(self, doc: Document) -> None:
        if not isinstance(doc.value, dict):
            raise doc.error((), "a flow definition is a mapping with at least 'name' and 'tasks'")
        violations.check(doc, _VALIDATOR, "the document", _explain)

    # -- inputs -------------------------------------------------------------------------------

    def _input(self, doc: Document, name: str, raw: dict[str, Any]) -> InputSpec:
        kind = raw.get("type", "any")
        enum = tuple(raw["enum"]) if "enum" in raw else None
        spec = InputSpec(name=name, type=kind, description=raw.get("description", ""), enum=enum)
        if "default" in raw:
            default = raw["default"]
            if not _is_type(default, kind):
                raise doc.error(("inputs", name, "default"), f"default of input {name!r} is not of type {kind}")
            if enum is not None and default not in enum:
                raise doc.error(("inputs", name, "default"), f"default of input {name!r} is not one of {list(enum)}")
            spec = InputSpec(name=name, type=kind, description=spec.description, default=default, enum=enum)
        return spec

    # -- tasks --------------------------------------------------------------------------------

    def _task(
        self,
        doc: Document,
        index: int,
        raw: dict[str, Any],
        subflows: dict[str, FlowDefinition],
        inputs: Mapping[str, InputSpec],
    ) -> TaskSpec:
        path: Path = ("tasks", index)
        args = self._compile(doc, path + ("args",), raw.get("args") or {})
        action = raw.get("action")
        flow = raw.get("flow")
        if action is not None:
            self._check_action_args(doc, path, action, args)
        else:
            assert flow is not None  # the schema demands one of the two
            subflows[flow] = self._subflow(doc, path, flow)
            self._check_subflow_args(doc, path, subflows[flow], args)
        for_each = self._for_each(doc, path, raw, inputs)
        if for_each is None and "concurrency" in raw:
            raise doc.error(path + ("concurrency",), "concurrency applies only to a task with for_each; remove it")
        spec = TaskSpec(
            name=raw["name"],
            action=action,
            flow=flow,
            args=args,
            provides=tuple(raw.get("provides", ())),
            after=tuple(raw.get("after", ())),
            for_each=for_each,
            concurrency=raw.get("concurrency"),
            retry=self._retry(raw.get("retry")),
            timeout=raw.get("timeout"),
            revert=self._revert(doc, path, raw.get("revert")),
            path=path,
            on_item_failure=OnItemFailure(raw.get("on_item_failure", "continue")),
            position=doc.mark(path),
        )
        self._check_child_runs(doc, spec, raw)
        return spec

    def _check_child_runs(self, doc: Document, spec: TaskSpec, raw: dict[str, Any]) -> None:
        """A fan-out over a task's result starts child runs: it needs a flow and takes no retry or timeout."""
        if isinstance(spec.for_each, Expression) and spec.for_each.references[0].root == "tasks" \
                and spec.action is not None:
            raise doc.error(spec.path + ("for_each",), "for_each over a task's result starts one child run per "
                            "item: give flow: (a definition to run per item) instead of action:")
        if not spec.child_runs:
            if "on_item_failure" in raw:
                raise doc.error(spec.path + ("on_item_failure",), "on_item_failure applies only to child runs "
                                "(for_each over a task's result with flow:); remove it")
            return
        for key in ("retry", "timeout"):
            if key in raw:
                raise doc.error(spec.path + (key,), f"a batch of child runs takes no {key}: put it on the tasks "
                                f"of flow {spec.flow!r}, which each child runs")

    def _for_each(
        self, doc: Document, path: Path, raw: dict[str, Any], inputs: Mapping[str, InputSpec]
    ) -> Expression | list[Any] | None:
        if "for_each" not in raw:
            return None
        value = self._compile(doc, path + ("for_each",), raw["for_each"])
        if isinstance(value, str) or (isinstance(value, Expression) and not value.is_whole):
            raise doc.error(path + ("for_each",), "for_each takes a list or one reference like ${inputs.servers}")
        if isinstance(value, Expression):
            ref = value.references[0]
            if ref.root in ("item", "index"):
                raise doc.error(path + ("for_each",), "for_each cannot use ${item}; reference an input")
            spec = inputs.get(ref.head or "") if ref.root == "inputs" else None
            if spec is not None and len(ref.steps) == 1 and spec.type not in ("list", "any"):
                raise doc.error(path + ("for_each",), f"for_each over input {spec.name!r} of type {spec.type}: "
                                f"a fan-out needs a list; declare it type: list")
        return value  # type: ignore[no-any-return]

    def _retry(self, raw: dict[str, Any] | None) -> RetrySpec | None:
        if raw is None:
            return None
        return RetrySpec(
            attempts=raw["attempts"],
            delay=float(raw.get("delay", 0.0)),
            backoff=float(raw.get("backoff", 1.0)),
            max_delay=float(raw.get("max_delay", 3600.0)),
            on=tuple(raw.get("on_errors", ())),
        )

    def _revert(self, doc: Document, path: Path, raw: Any) -> RevertSpec:
        if raw is None:
            return RevertSpec()
        if raw == "irreversible":
            return RevertSpec(irreversible=True)
        args = self._compile(doc, path + ("revert", "args"), raw.get("args") or {})
        self._check_action_args(doc, path + ("revert",), raw["action"], args)
        return RevertSpec(action=raw["action"], args=args)

    def _check_action_args(self, doc: Document, path: Path, action: str, args: Mapping[str, Any]) -> None:
        try:
            action_class = registry.fetch(registry.ACTIONS, action)
        except PluginNotFound as exc:
            if exc.import_error is not None:
                raise doc.error(path + ("action",), f"action {action!r} is installed but failed to import: "
                                f"{exc.import_error}") from exc
            raise doc.error(path + ("action",), f"unknown action {action!r}; installed actions: "
                            f"{', '.join(exc.available)}") from exc
        params = arguments.parameters(action_class)
        schemas = arguments.schemas(action_class)
        for name, value in args.items():
            if name not in params:
                raise doc.error(path + ("args", name), f"action {action!r} takes no argument {name!r}; "
                                f"it takes: {', '.join(params) or 'none'}")
            reason = None if expressions.references_of(value) else arguments.explain(action, name, value, schemas[name])
            if reason is not None:
                raise doc.error(path + ("args", name), reason)
        for name, param in params.items():
            if param.default is inspect.Parameter.empty and name not in args:
                raise doc.error(path, f"action {action!r} needs argument {name!r}; add it under args:")

    def _subflow(self, doc: Document, path: Path, reference: str) -> FlowDefinition:
        if reference in self._stack:
            chain = " -> ".join(self._stack + (reference,))
            raise doc.error(path + ("flow",), f"sub-flow {reference!r} includes itself ({chain}); break the loop")
        try:
            sub_source, text = self._resolver(reference, doc.source)
        except KeyError:
            raise doc.error(path + ("flow",), f"no definition named {reference!r}; put {reference}.yaml next to "
                            f"this file or give its path") from None
        key = (sub_source, text)
        if key not in self._loaded:
            self._loaded[key] = _Loader(self._resolver, self._stack + (reference,), self._loaded).load(text, sub_source)
        return self._loaded[key]

    def _check_subflow_args(self, doc: Document, path: Path, sub: FlowDefinition, args: Mapping[str, Any]) -> None:
        declared = {spec.name: spec for spec in sub.inputs}
        for name, value in args.items():
            if name not in declared:
                raise doc.error(path + ("args", name), f"flow {sub.name!r} has no input {name!r}; its inputs: "
                                f"{', '.join(declared) or 'none'}")
            if not isinstance(value, Expression) and not _is_type(value, declared[name].type):
                raise doc.error(path + ("args", name), f"input {name!r} of flow {sub.name!r} is of type "
                                f"{declared[name].type}")
        for name, spec in declared.items():
            if spec.required and name not in args:
                raise doc.error(path, f"flow {sub.name!r} needs input {name!r}; add it under args:")
        for name in sorted(sub.static_inputs & set(args)):
            if any(ref.root == "tasks" for ref in expressions.references_of(args[name])):
                raise doc.error(path + ("args", name), f"flow {sub.name!r} fans out over its input {name!r}, which "
                                f"must be known when the run starts; pass an input or a literal, not a task's result")

    # -- references and graph -----------------------------------------------------------------

    def _compile(self, doc: Document, path: Path, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return expressions.parse_template(value)
            except ExpressionError as exc:
                raise doc.error(path, str(exc)) from exc
        if isinstance(value, list):
            return [self._compile(doc, path + (i,), item) for i, item in enumerate(value)]
        if isinstance(value, dict):
            return {key: self._compile(doc, path + (key,), item) for key, item in value.items()}
        return value

    def _check_references(self, doc: Document, definition: FlowDefinition) -> None:
        inputs = {spec.name for spec in definition.inputs}
        tasks = {task.name: task for task in definition.tasks}
        if len(tasks) != len(definition.tasks):
            seen: set[str] = set()
            for task in definition.tasks:
                if task.name in seen:
                    raise doc.error(task.path + ("name",), f"task name {task.name!r} is used twice; rename one")
                seen.add(task.name)
        for task in definition.tasks:
            fan_out = task.for_each is not None
            for path, ref in _located_references(task.path + ("args",), dict(task.args)):
                self._check_reference(doc, path, ref, inputs, tasks, task.name, fan_out)
            for path, ref in _located_references(task.path + ("for_each",), task.for_each):
                self._check_reference(doc, path, ref, inputs, tasks, task.name, False)
            for path, ref in _located_references(task.path + ("revert", "args"), dict(task.revert.args)):
                self._check_reference(doc, path, ref, inputs, tasks, None, fan_out)
            for index, name in enumerate(task.after):
                if name not in tasks or name == task.name:
                    raise doc.error(task.path + ("after", index), f"after: names no other task {name!r}; "
                                    f"tasks are: {', '.join(tasks)}")
        for path, ref in _located_references(("outputs",), dict(definition.outputs)):
            self._check_reference(doc, path, ref, inputs, tasks, None, False)

    def _check_reference(
        self,
        doc: Document,
        path: Path,
        ref: Reference,
        inputs: set[str],
        tasks: Mapping[str, TaskSpec],
        own: str | None,
        fan_out: bool,
    ) -> None:
        where = f"${{{ref.text}}}"
        if ref.root == "inputs" and ref.head not in inputs:
            raise doc.error(path, f"{where}: no input {ref.head!r}; declare it under inputs: "
                            f"(declared: {', '.join(sorted(inputs)) or 'none'})")
        if ref.root == "tasks":
            if ref.head == own:
                raise doc.error(path, f"{where}: a task cannot use its own result")
            if ref.head is None or ref.head not in tasks:
                raise doc.error(path, f"{where}: no task {ref.head!r}; tasks are: {', '.join(tasks)}")
            target = tasks[ref.head]
            if target.provides and len(ref.steps) > 1 and ref.steps[1] not in target.provides:
                raise doc.error(path, f"{where}: task {ref.head!r} provides only {', '.join(target.provides)}")
        if ref.root in ("item", "index") and not fan_out:
            raise doc.error(path, f"{where}: only a task with for_each has it")

    def _check_acyclic(self, doc: Document, definition: FlowDefinition) -> None:
        graph = dependency_graph(definition)
        try:
            cycle = networkx.find_cycle(graph)
        except networkx.NetworkXNoCycle:
            return
        names = [edge[0] for edge in cycle] + [cycle[0][0]]
        first = definition.task(names[0])
        raise doc.error(first.path, f"tasks depend on each other in a cycle: {' -> '.join(names)}; "
                        f"remove one reference or after:")


def _located_references(path: Path, value: Any) -> list[tuple[Path, Reference]]:
    """Every reference inside a compiled value, with the path of the string holding it."""
    if isinstance(value, Expression):
        return [(path, ref) for ref in value.references]
    if isinstance(value, list):
        return [found for i, item in enumerate(value) for found in _located_references(path + (i,), item)]
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in _located_references(path + (key,), item)]
    return []


def _is_type(value: Any, kind: str) -> bool:
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, schema.INPUT_TYPES[kind])


def _explain(error: jsonschema.ValidationError) -> str | None:
    if error.validator == "oneOf" and isinstance(error.instance, dict) and "name" in error.instance:
        has_both = "action" in error.instance and "flow" in error.instance
        if has_both or ("action" not in error.instance and "flow" not in error.instance):
            return "a task needs exactly one of 'action' (what to run) or 'flow' (a sub-flow to run)"
    if error.validator == "pattern":
        return f"{error.instance!r} is not a valid name: start with a letter or _, then letters, digits, _ or -"
    return None
