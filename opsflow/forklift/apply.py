"""Make a plan from a selection, and run a plan: the logic behind ``opsflow forklift``.

Running a plan is running ``forklift-batch.yaml`` (each server its own child run of
``forklift.yaml``) with the plan's servers, clouds, mode and mappings as inputs, after the
pre-flight checks ran again against the clouds as they are now (a plan may be days old): here, on
the embedded engine (:func:`run`), or as a job on a ZooKeeper jobboard (:func:`submit`), where every
conductor shares the batch's child runs and :func:`follow` watches it from anywhere.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opsflow import jobs
from opsflow.engines.atoms import FailurePoint
from opsflow.engines.jobboard import JobBoard
from opsflow.engines.records import RunRecord, RunState
from opsflow.engines.runner import Observer, Runner
from opsflow.errors import PlanError
from opsflow.flows import loader
from opsflow.flows.resolver import BUILTIN_DIR
from opsflow.forklift import inventory, preflight
from opsflow.forklift.plan import Plan, planned, select
from opsflow.forklift.preflight import Problem
from opsflow.tasks.migration import Mode

__all__ = ["BATCH_FLOW", "ENDED", "check", "follow", "make", "run", "submit"]

#: The flow a plan runs.
BATCH_FLOW = f"{BUILTIN_DIR}/forklift-batch.yaml"
#: States of a batch run that no conductor changes without an operator.
ENDED = frozenset({RunState.SUCCEEDED, RunState.REVERTED, RunState.FAILED, RunState.PAUSED, RunState.DAMAGED})


def _described(plan_source: str, ids: Sequence[str]) -> list[dict[str, Any]]:
    return [inventory.describe(plan_source, server_id) for server_id in ids]


def make(source_cloud: str, destination_cloud: str, selection: Sequence[str], *, mode: Mode = Mode.IMAGE,
         finish: str = "stop", mappings: Mapping[str, Mapping[str, str]] | None = None,
         limits: Mapping[str, int] | None = None) -> Plan:
    """Select the servers, describe them, run the pre-flight checks: the plan, problems included."""
    mappings = dict(mappings or {})
    servers = select(source_cloud, selection)
    if not servers:
        raise PlanError(f"no server at {source_cloud} matches {' '.join(selection)}; "
                        f"check the selection (`openstack server list`)")
    described = _described(source_cloud, [s.id for s in servers])
    problems = preflight.check(destination_cloud, described, mappings)
    return Plan(source_cloud=source_cloud, destination_cloud=destination_cloud, mode=mode, finish=finish,
                mappings=mappings, servers=tuple(planned(d, mappings) for d in described),
                problems=tuple(problems), limits=dict(limits or {}))


def check(plan: Plan) -> list[Problem]:
    """The pre-flight checks of a (perhaps edited, perhaps old) plan against the clouds now."""
    return preflight.check(plan.destination_cloud, _described(plan.source_cloud, [s.id for s in plan.servers]),
                           plan.mappings)


def run(plan: Plan, state_url: str, *, failure_points: tuple[FailurePoint, ...] = (),
        observer: Observer | None = None) -> RunRecord:
    """Run the plan here (children on the embedded engine); the batch run's record."""
    definition = loader.load_file(BATCH_FLOW)
    with Runner(state_url, observer=observer) as runner:
        return runner.run(definition, plan.inputs(), failure_points=failure_points)


def submit(plan: Plan, board: JobBoard, runner: Runner) -> str:
    """Post the plan's batch as a job (conductors run it and share its child runs); the run id."""
    return jobs.submit(board, runner, loader.load_file(BATCH_FLOW), plan.inputs())


def follow(runner: Runner, run_id: str, progress: Callable[[RunRecord], None], *, poll: float = 2.0,
           timeout: float | None = None) -> RunRecord:
    """Read the run until it ended (see :data:`ENDED`), calling ``progress`` on each look; its record.

    Raises TimeoutError when ``timeout`` seconds pass first (the job goes on: this only watches).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        record = runner.record(run_id)
        progress(record)
        if record.state in ENDED:
            return record
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id} is still {record.state.value} after {timeout:.0f} s")
        time.sleep(poll)
