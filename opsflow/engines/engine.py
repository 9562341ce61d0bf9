"""TaskFlow's parallel engine with a successor search that stays linear in the flow's length.

After each atom finishes, TaskFlow's selector walks *every* descendant of that atom to find what
became ready, and checks each candidate against *every* ancestor; in a chain of n tasks that is
O(n) per task and O(n^2) per run (1000 chained tasks: ~15 s of pure bookkeeping). Only the atoms
directly after the finished one (through flow start/end markers) can have become ready, and only
their direct predecessors decide it, so this engine's selector looks at those alone. The full walk is
kept for the engine's first pass (fresh or resumed), and for the case it exists for: graph-flow
link deciders, which may let atoms further down run when an intermediate one is ignored — opsflow
compiles no deciders, and flows that do are refused here.

Registered as the TaskFlow engine ``opsflow-parallel`` (entry point group ``taskflow.engines``).

The engine also has a **start gate** (:attr:`ParallelEngine.start_gate`): asked before each atom is
scheduled, it answers from what the process knows -- the run's lease (:mod:`opsflow.engines.lease`)
still held, the store reachable -- and may block a while (a short outage is a pause). When it says
no, nothing more is scheduled and the engine suspends once the atoms in flight have finished.

And each task's execute runs **within** :attr:`ParallelEngine.around_execute`, in the worker
thread: the runner waits there until the task's RUNNING mark is stored (a store that writes it
behind, as ZooKeeper's does, is waited for by the worker, not by the engine's one thread) and
records when the task acted. If entering it fails (the run's lease moved on), the task fails
without acting.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent import futures
from typing import Any, ContextManager

from taskflow import exceptions as tf_exc, flow as tf_flow, states as tf_states
from taskflow.engines.action_engine import engine as tf_engine, runtime as tf_runtime, selector as tf_selector
from taskflow.engines.action_engine import compiler as tf_compiler, deciders as tf_deciders, traversal
from taskflow.engines.action_engine import executor as tf_executor, scheduler as tf_scheduler
from taskflow.types import failure as tf_failure

from opsflow.engines import pattern_compiler

__all__ = ["ParallelEngine"]

LOG = logging.getLogger(__name__)

#: Execution-graph node kinds that are atoms (tasks and retries).
_ATOM_KINDS: tuple[str, ...] = tuple(tf_compiler.ATOMS)

_DONE = (tf_states.SUCCESS, tf_states.IGNORE)
_DONE_INTENTIONS = (tf_states.EXECUTE, tf_states.IGNORE)


class _NextOnlySelector(tf_selector.Selector):  # type: ignore[misc]
    def _get_maybe_ready_for_execute(self, atom: Any) -> Any:
        # An atom may run once its direct predecessors have: they ran only after theirs did, so
        # looking further back (TaskFlow walks every ancestor) adds cost and no information.
        def ready_checker(predecessors: Any) -> bool:
            return all(
                state in _DONE and intention in _DONE_INTENTIONS for _atom, (state, intention) in predecessors
            )

        return self._get_maybe_ready(
            atom,
            tf_states.RUNNING,
            [tf_states.EXECUTE],
            lambda: traversal.depth_first_iterate(
                self._execution_graph, atom, traversal.Direction.BACKWARD, through_retries=False, through_tasks=False
            ),
            ready_checker,
            lambda: tf_deciders.IgnoreDecider(atom, self._runtime.fetch_edge_deciders(atom)),
            for_what="execute",
        )

    def _browse_atoms_for_execute(self, atom: Any = None) -> Any:
        if atom is None:
            yield from super()._browse_atoms_for_execute()
            return
        successors = traversal.breadth_first_iterate(
            self._execution_graph, atom, traversal.Direction.FORWARD, through_retries=False, through_tasks=False
        )
        for candidate in successors:
            is_ready, late_decider = self._get_maybe_ready_for_execute(candidate)
            if is_ready:
                yield (candidate, late_decider)


#: Given a task's name, what its execute runs within (in the worker thread).
AroundExecute = Callable[[str], ContextManager[None]]


def _execute_within(task: Any, around: AroundExecute, arguments: Any, progress_callback: Any = None) -> Any:
    """TaskFlow's worker function for a task, entered through ``around`` first."""
    try:
        context = around(task.name)
        context.__enter__()
    except tf_exc.StorageFailure:
        # The store did not answer in time: the task must not act, and it did not fail either.
        # Raised here it stops the engine as a failed save does (the run suspends, to be resumed),
        # where a task failure would revert the whole run for an outage.
        raise
    except Exception:  # the task must not act (its lease moved on): report it as the task's failure
        return tf_executor.EXECUTED, tf_failure.Failure()
    try:
        return tf_executor._execute_task(task, arguments, progress_callback)
    finally:
        context.__exit__(None, None, None)


class _AroundTaskExecutor(tf_executor.ParallelThreadTaskExecutor):  # type: ignore[misc]
    """TaskFlow's thread executor, each task's execute run within the engine's ``around_execute``."""

    around: AroundExecute | None = None

    def execute_task(self, task: Any, task_uuid: str, arguments: Any, progress_callback: Any = None) -> Any:
        if self.around is None:
            return super().execute_task(task, task_uuid, arguments, progress_callback=progress_callback)
        return self._submit_task(_execute_within, task, self.around, arguments, progress_callback=progress_callback)


class _GatedScheduler(tf_scheduler.Scheduler):  # type: ignore[misc]
    """Schedules atoms as TaskFlow does, each only once the start gate lets it."""

    def __init__(self, runtime: Any, gate: Callable[[], bool], refused: Callable[[], None]) -> None:
        super().__init__(runtime)
        self._gate = gate
        self._refused = refused

    def schedule(self, atoms: Any) -> Any:
        futures: set[Any] = set()
        for atom in atoms:
            if not self._gate():
                LOG.warning("not starting %s or anything after it: this process may no longer run the flow",
                            atom.name)
                self._refused()
                return futures, []
            done, failures = super().schedule([atom])
            futures |= done
            if failures:
                return futures, failures
        return futures, []


class _Runtime(tf_runtime.Runtime):  # type: ignore[misc]
    """Finds each symbol's provider directly when the flow has exactly one provider per symbol.

    TaskFlow's scope walker first gathers *every* ancestor of an atom to decide which providers it
    may see: O(n) per atom, O(n^2) per chain. Scopes only matter when several atoms provide the
    same name; opsflow's compiled flows never do (symbols are task paths), so for each atom whose
    symbols have one provider the visible scope is simply those providers. Any symbol with several
    providers keeps TaskFlow's walker for the atoms that need it.
    """

    def fetch_scopes_for(self, atom_name: str) -> Any:
        direct = self.__dict__.get("_opsflow_direct_scopes")
        if direct is None:
            direct = self.__dict__["_opsflow_direct_scopes"] = self._direct_scopes()
        if atom_name in direct:
            return direct[atom_name]
        return super().fetch_scopes_for(atom_name)

    def _direct_scopes(self) -> dict[str, list[list[str]]]:
        atoms = list(self.iterate_nodes(_ATOM_KINDS))
        providers: dict[str, list[str]] = {}
        for atom in atoms:
            for symbol in atom.provides:
                providers.setdefault(symbol, []).append(atom.name)
        scopes: dict[str, list[list[str]]] = {}
        for atom in atoms:
            needed = set(atom.rebind.values()) | set(getattr(atom, "revert_rebind", {}).values())
            found = [providers.get(symbol, []) for symbol in needed]
            if all(len(names) <= 1 for names in found):
                scopes[atom.name] = [[name for names in found for name in names]]
        return scopes

    @property
    def selector(self) -> tf_selector.Selector:
        cached = self.__dict__.get("_opsflow_selector")
        if cached is None:
            cached = self.__dict__["_opsflow_selector"] = _NextOnlySelector(self)
        return cached

    #: Set by the engine: asked before each atom starts; and what to do when it says no.
    start_gate: Callable[[], bool] | None = None
    gate_refused: Callable[[], None] | None = None

    @property
    def scheduler(self) -> Any:
        cached = self.__dict__.get("_opsflow_scheduler")
        if cached is None:
            gate = self.start_gate
            refused = self.gate_refused or (lambda: None)
            cached = tf_scheduler.Scheduler(self) if gate is None else _GatedScheduler(self, gate, refused)
            self.__dict__["_opsflow_scheduler"] = cached
        return cached


class ParallelEngine(tf_engine.ParallelActionEngine):  # type: ignore[misc]
    """A parallel action engine whose per-atom bookkeeping does not grow with the flow."""

    _executor_cls_matchers = [tf_engine._ExecutorTypeMatch((futures.Executor,), _AroundTaskExecutor)]
    _default_executor_cls = _AroundTaskExecutor

    def __init__(self, flow: Any, flow_detail: Any, backend: Any, options: Any) -> None:
        super().__init__(flow, flow_detail, backend, options)
        self._compiler = pattern_compiler.PatternCompiler(flow)
        #: Asked before each atom is scheduled (may block); None: always go. Set before ``run``.
        self.start_gate: Callable[[], bool] | None = None

    @property
    def around_execute(self) -> AroundExecute | None:
        """What each task's execute runs within, in the worker thread; None: nothing."""
        around: AroundExecute | None = self._task_executor.around
        return around

    @around_execute.setter
    def around_execute(self, around: AroundExecute | None) -> None:
        self._task_executor.around = around

    def _gate_refused(self) -> None:
        try:
            self.suspend()
        except Exception as exc:  # the store refused the write too: the engine ends on its next one
            LOG.info("could not record the suspension: %s", exc)

    def compile(self) -> None:
        """Compile as TaskFlow does, with the linear successor search."""
        with self._lock:
            self._compile_locked()

    def _compile_locked(self) -> None:
        if self._compiled:  # type: ignore[has-type]
            return
        compilation = self._check_compilation(self._compiler.compile())
        for _u, _v, data in compilation.execution_graph.edges(data=True):
            if data.get(tf_flow.LINK_DECIDER) is not None:
                raise tf_exc.CompilationFailure("opsflow-parallel does not support graph-flow link deciders")
        self._compilation = compilation
        self._runtime = _Runtime(
            compilation,
            self.storage,
            self.atom_notifier,
            self._task_executor,
            self._retry_executor,
            options=self._options,
        )
        self._runtime.start_gate = self.start_gate
        self._runtime.gate_refused = self._gate_refused
        self._runtime.compile()
        self._compiled = True
