"""Make a plan from a selection, and run a plan: the logic behind ``opsflow forklift``.

Running a plan is running ``forklift-batch.yaml`` (each server its own child run of
``forklift.yaml``) with the plan's servers, clouds, mode and mappings as inputs, after the
pre-flight checks ran again against the clouds as they are now (a plan may be days old).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opsflow.engines.atoms import FailurePoint
from opsflow.engines.records import RunRecord
from opsflow.engines.runner import Observer, Runner
from opsflow.errors import PlanError
from opsflow.flows import loader
from opsflow.flows.resolver import BUILTIN_DIR
from opsflow.forklift import inventory, preflight
from opsflow.forklift.plan import Plan, planned, select
from opsflow.forklift.preflight import Problem
from opsflow.tasks.migration import Mode

__all__ = ["BATCH_FLOW", "check", "make", "run"]

#: The flow a plan runs.
BATCH_FLOW = f"{BUILTIN_DIR}/forklift-batch.yaml"


def _described(plan_source: str, ids: Sequence[str]) -> list[dict[str, Any]]:
    return [inventory.describe(plan_source, server_id) for server_id in ids]


def make(source_cloud: str, destination_cloud: str, selection: Sequence[str], *, mode: Mode = Mode.IMAGE,
         finish: str = "stop", mappings: Mapping[str, Mapping[str, str]] | None = None) -> Plan:
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
                problems=tuple(problems))


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
