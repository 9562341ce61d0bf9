"""``/v1/reclaim/servers``: the servers in a reclaim cycle, and the owner's keep.

An owner sees their own projects' servers only (a server of another project answers 404, as a
job does); an admin sees every project's with ``all_projects=true``. A keep goes through
:func:`opsflow.reclaim.keep.keep`, exactly as the CLI's and the signed link's: recorded in the
audit store first, then the run is signalled, so it is never lost; once the run has decided to
act the keep answers 409 with that reason.
"""

from __future__ import annotations

import time
from typing import Any

import webob

from opsflow import jobs as board_jobs
from opsflow.api.app import Route, json_body, query_flag
from opsflow.api.context import Context
from opsflow.api.faults import ApiError
from opsflow.api.services import Services
from opsflow.errors import FlowNotFound
from opsflow.reclaim import cycles, keep as keeping, operations
from opsflow.reclaim.audit import Event

__all__ = ["MAX_KEEP_DAYS", "routes"]

#: The longest keep an owner may ask for at once; they can keep again.
MAX_KEEP_DAYS = 365


def _cycles(services: Services, log: list[Event] | None = None) -> list[cycles.Cycle]:
    return cycles.cycles(services.audit, lambda run_id: operations.status_of(services.runner, run_id), log)


def _visible(context: Context, cycle: cycles.Cycle) -> bool:
    return context.can("opsflow:reclaim:get", {"project_id": cycle.project_id or None})


def _find(services: Services, context: Context, server_id: str, log: list[Event] | None = None) -> cycles.Cycle:
    for cycle in _cycles(services, log):
        if cycle.server == server_id and _visible(context, cycle):
            return cycle
    raise ApiError(404, f"no server {server_id!r} in a reclaim cycle; GET /v1/reclaim/servers lists those you "
                        "may see")


def _run_cloud(services: Services, cycle: cycles.Cycle) -> str:
    """The cloud a cycle's run acts on, for cycles picked before the sweep recorded it."""
    return str(services.runner.record(cycle.run_id).inputs.get("cloud", ""))


def _days(body: Any) -> float:
    days = body.get("days", 30) if isinstance(body, dict) else None
    if isinstance(days, bool) or not isinstance(days, (int, float)) or not 0 < days <= MAX_KEEP_DAYS:
        raise ApiError(400, f"days must be a number above 0 and at most {MAX_KEEP_DAYS}, e.g. {{\"days\": 30}}")
    return float(days)


def routes(services: Services) -> list[Route]:
    """The reclaim routes."""

    def list_servers(request: webob.Request, context: Context) -> Any:
        context.check("opsflow:reclaim:list")
        every = query_flag(request, "all_projects")
        if every:
            context.check("opsflow:reclaim:list_all", {})
        found = [c for c in _cycles(services)
                 if (every or c.project_id == context.project_id) and _visible(context, c)]
        return {"servers": [c.to_json() for c in found]}

    def show(request: webob.Request, context: Context, server_id: str) -> Any:
        log = services.audit.events()  # read once: the cycle and the server's entries both come from it
        cycle = _find(services, context, server_id, log)
        events = [e.to_json() for e in log if e.server == server_id]
        return {"server": {**cycle.to_json(), "events": events}}

    def keep(request: webob.Request, context: Context, server_id: str) -> Any:
        days = _days(json_body(request))
        cycle = _find(services, context, server_id)
        context.check("opsflow:reclaim:keep", {"project_id": cycle.project_id or None})
        if cycle.state == "ended":
            raise ApiError(409, f"server {server_id}'s reclaim cycle {cycle.cycle} has ended ({cycle.last}); "
                                "nothing is pending to keep it from")

        def signal(run_id: str) -> None:
            try:
                board_jobs.signal(services.board, services.runner, run_id, keeping.KEEP_SIGNAL)
            except FlowNotFound:  # not on the board (a local-mode run): the stored run still gets it
                services.runner.signal(run_id, keeping.KEEP_SIGNAL)

        kept = keeping.keep(services.audit, cycle.cloud or _run_cloud(services, cycle), server_id, days,
                            f"owner:{context.user_name or context.user_id}", time.time(), signal)
        return {"kept": {"server": kept.server, "until": kept.until, "run_id": kept.run_id,
                         "message": kept.sentence()}}

    return [
        Route("reclaim_list", "/v1/reclaim/servers", ["GET"], list_servers),
        Route("reclaim_show", "/v1/reclaim/servers/{server_id}", ["GET"], show),
        Route("reclaim_keep", "/v1/reclaim/servers/{server_id}/keep", ["POST"], keep),
    ]
