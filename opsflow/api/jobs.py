"""``/v1/jobs``: submit, list (filters, paging), show (tasks, timings, children), graph, and act.

Jobs are the ZooKeeper jobboard's (:mod:`opsflow.engines.jobboard`); acting on one is what
``opsflow resume|revert|cancel|signal`` does (:mod:`opsflow.jobs`), so conductors see no
difference between the CLI and the API. Each job belongs to the project that submitted it
(:mod:`opsflow.api.ownership`); a job the caller may not read answers 404, as if it did not exist.

Listing reads the board's entries, holds and owners in three round trips, filters and pages on
them, and reads the stored runs (progress) of the page alone: a page of 100 costs the same with
10 or 10,000 jobs on the board.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

import webob

from opsflow import jobs as board_jobs
from opsflow.api import flows
from opsflow.api.app import Route, json_body, query_flag
from opsflow.api.context import Context
from opsflow.api.faults import ApiError
from opsflow.api.ownership import Owner
from opsflow.api.services import Services
from opsflow.engines import records
from opsflow.engines.jobboard import JobEntry
from opsflow.engines.records import RunRecord
from opsflow.errors import FlowNotFound
from opsflow.flows.model import OnFailure
from opsflow.tasks.base import SystemClock

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "list_jobs", "resolve", "routes"]

#: Jobs per page when the caller names no limit, and the most one page may have.
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
#: States a job on the board can be in (see :attr:`opsflow.jobs.JobView.state`), and after it left.
#: What a job reference may look like: a uuid or a prefix of one.
_JOB_REF = re.compile(r"^[0-9a-fA-F-]{1,36}$")
BOARD_STATES = ("queued", "running", "paused", "failed", "waiting", "revert-requested", "reverting",
                "cancel-requested", "cancelling")


def _when(moment: float | None, timespec: str = "seconds") -> str | None:
    if moment is None:
        return None
    return datetime.datetime.fromtimestamp(moment, datetime.timezone.utc).isoformat(timespec=timespec)


@dataclasses.dataclass(frozen=True)
class _Found:
    """A job as the API resolved it: on the board (``view``) or ended and only stored (``record``)."""

    run_id: str
    view: board_jobs.JobView | None
    record: RunRecord | None
    owner: Owner | None

    @property
    def state(self) -> str:
        if self.view is not None:
            return self.view.state
        return self.record.state.value if self.record is not None else "unknown"


def _item(found: _Found) -> dict[str, Any]:
    record = found.record
    steps = record.steps if record is not None else ()
    entry = found.view.entry if found.view is not None else None
    return {
        "id": found.run_id,
        "name": entry.name if entry is not None else (record.name if record is not None else None),
        "state": found.state,
        "on_board": found.view is not None,
        "project_id": found.owner.project_id if found.owner else None,
        "user_id": found.owner.user_id if found.owner else None,
        "claimed_by": found.view.owner if found.view is not None else None,
        "submitted": _when(entry.submitted if entry is not None else (record.created if record else None)),
        "due": _when(found.view.due if found.view is not None else None),
        "run_state": record.state.value if record is not None else None,
        "tasks_done": sum(t.state is records.TaskState.SUCCESS for t in steps),
        "tasks_total": len(steps),
        "parent_id": record.parent.run_id if record is not None and record.parent else None,
    }


def _detail(services: Services, found: _Found) -> dict[str, Any]:
    record = found.record
    out = _item(found)
    out["tasks"] = [{"path": t.path, "state": t.state, "started": _when(t.started, "milliseconds"),
                     "finished": _when(t.finished, "milliseconds"),
                     "duration": round(t.duration, 3) if t.duration is not None else None, "error": t.error}
                    for t in (record.steps if record is not None else ())]
    out["inputs"] = dict(record.inputs) if record is not None else {}
    out["waiting"] = dict(record.waiting) if record is not None else {}
    children = services.runner.children_of(found.run_id) if record is not None else []
    out["children"] = [{"id": c.run_id, "state": c.state.value, "task": c.parent.task if c.parent else None,
                        "index": c.parent.index if c.parent else None,
                        "tasks_done": sum(t.state is records.TaskState.SUCCESS for t in c.steps), "tasks_total": len(c.steps)}
                       for c in children]
    return out


def _record(services: Services, run_id: str) -> RunRecord | None:
    try:
        return services.runner.record(run_id)
    except FlowNotFound:
        return None


def resolve(services: Services, context: Context, ref: str, rule: str = "opsflow:jobs:get") -> _Found:
    """The job ``ref`` names (run id or unique prefix on the board); 404 unless the caller may read it."""
    context.require()
    if not _JOB_REF.match(ref):
        raise ApiError(404, f"no job {ref!r}: a job id is a run's uuid (or its unique prefix)")
    try:
        view = board_jobs.view(services.board, services.runner, ref)
        found = _Found(view.entry.run_id, view, view.record, None)
    except FlowNotFound:
        record = _record(services, ref)
        if record is None:
            raise ApiError(404, f"no job {ref!r}; GET /v1/jobs lists the jobs you may see") from None
        found = _Found(record.run_id, None, record, None)
    found = dataclasses.replace(found, owner=services.owners.of(found.run_id))
    target = {"project_id": found.owner.project_id if found.owner else None}
    if not context.can("opsflow:jobs:get", target):
        raise ApiError(404, f"no job {ref!r}; GET /v1/jobs lists the jobs you may see")
    if rule != "opsflow:jobs:get":
        context.check(rule, target)
    return found


def _int(request: webob.Request, name: str, default: int, low: int, high: int) -> int:
    text = request.GET.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ApiError(400, f"{name} must be a whole number from {low} to {high}, not {text!r}") from None
    if not low <= value <= high:
        raise ApiError(400, f"{name} must be from {low} to {high}, not {value}")
    return value


def list_jobs(services: Services, context: Context, request: webob.Request) -> dict[str, Any]:
    """The page of jobs the request asks for (also used by the dashboard)."""
    context.check("opsflow:jobs:list")
    limit = _int(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    marker, state, name = request.GET.get("marker"), request.GET.get("state"), request.GET.get("name")
    project = request.GET.get("project_id")
    every = query_flag(request, "all_projects")
    if every or project:
        context.check("opsflow:jobs:list_all", {})
    if state is not None and state not in BOARD_STATES:
        raise ApiError(400, f"unknown state {state!r}; jobs on the board are {', '.join(BOARD_STATES)}")
    board = services.board
    entries, holds, owners = board.entries(), board.holds(), services.owners.all()
    wanted_project = project or (None if every else context.project_id)
    chosen: list[tuple[JobEntry, Owner | None]] = []
    for entry in entries:
        owner = services.owners.of(entry.run_id, owners)
        if wanted_project is not None and (owner is None or owner.project_id != wanted_project):
            continue
        if name is not None and entry.name != name:
            continue
        # The claim holder's name is read for the page alone; whether there is one is enough here.
        cheap = board_jobs.JobView(entry, holds.get(entry.run_id), "" if entry.claimed else None, None)
        if state is not None and cheap.state != state:
            continue
        chosen.append((entry, owner))
    if marker is not None:
        ids = [entry.run_id for entry, _owner in chosen]
        if marker not in ids:
            raise ApiError(400, f"marker {marker!r} is not a job of this listing; start without a marker")
        chosen = chosen[ids.index(marker) + 1:]
    page, more = chosen[:limit], len(chosen) > limit

    def read(entry: JobEntry, owner: Owner | None) -> dict[str, Any]:
        owner_name = board.owner(entry) if entry.claimed else None
        record = _record(services, entry.run_id)
        view = board_jobs.JobView(entry, holds.get(entry.run_id), owner_name, record)
        return _item(_Found(entry.run_id, view, record, owner))

    # The page's runs are read side by side: each read is a few ZooKeeper round trips of waiting.
    out = list(services.readers.map(lambda pair: read(*pair), page))
    links = []
    if more and page:
        query = {k: v for k, v in request.GET.items() if k != "marker"}
        query.update(marker=page[-1][0].run_id, limit=str(limit))
        links.append({"rel": "next", "href": f"{request.path}?{urllib.parse.urlencode(query)}"})
    return {"jobs": out, "links": links}


def routes(services: Services) -> list[Route]:
    """The job routes."""

    def listing(request: webob.Request, context: Context) -> Any:
        return list_jobs(services, context, request)

    def show(request: webob.Request, context: Context, job_id: str) -> Any:
        return {"job": _detail(services, resolve(services, context, job_id))}

    def job_graph(request: webob.Request, context: Context, job_id: str) -> Any:
        found = resolve(services, context, job_id)
        _book, detail = records.load_detail(services.backend, found.run_id, "the run store")
        definition, _inputs = records.definition_of(detail)
        return flows.graph_reply(request, definition, found.record.tasks if found.record else ())

    def submit(request: webob.Request, context: Context) -> Any:
        context.check("opsflow:jobs:create", {"project_id": context.project_id})
        body = json_body(request)
        if not isinstance(body, dict):
            raise ApiError(400, "send a JSON object: {\"flow\": NAME} or {\"definition\": YAML}, with \"inputs\"")
        if ("flow" in body) == ("definition" in body):
            raise ApiError(400, "give exactly one of 'flow' (a built-in's name, GET /v1/flows) and "
                                "'definition' (YAML text)")
        if "flow" in body:
            if not isinstance(body["flow"], str):
                raise ApiError(400, "'flow' must be the name of a built-in flow (GET /v1/flows)")
            definition = flows.builtin(body["flow"])
        else:
            definition = flows.load_upload(body["definition"])
        inputs = body.get("inputs", {})
        if not isinstance(inputs, dict):
            raise ApiError(400, "'inputs' must be an object of input name to value")
        on_failure = body.get("on_failure")
        if on_failure is not None:
            if on_failure not in [o.value for o in OnFailure]:
                raise ApiError(400, f"on_failure must be one of {', '.join(o.value for o in OnFailure)}")
            definition = dataclasses.replace(definition, on_failure=OnFailure(on_failure))
        if context.project_id is None or context.user_id is None:
            raise ApiError(403, "submit with a project-scoped token: the job belongs to that project")
        run_id = services.runner.create(definition, inputs)
        # The owner is known before the job is on the board, so no listing ever shows it ownerless.
        services.owners.record(run_id, Owner(context.project_id, context.user_id))
        services.board.post(run_id, definition.name, SystemClock().now())
        found = resolve(services, context, run_id)
        reply = webob.Response(status=201, content_type="application/json", charset="utf-8")
        reply.json_body = {"job": _item(found)}
        reply.location = f"{request.host_url}/v1/jobs/{run_id}"
        return reply

    def acting(action: str) -> Any:
        def act(request: webob.Request, context: Context, job_id: str) -> Any:
            found = resolve(services, context, job_id, "opsflow:jobs:act")
            if found.view is None:
                raise ApiError(409, f"job {found.run_id} has ended ({found.state}) and left the board; "
                                    f"there is nothing to {action}")
            args: list[str] = []
            if action == "signal":
                body = json_body(request)
                signal = body.get("name") if isinstance(body, dict) else None
                if not isinstance(signal, str) or not signal.strip():
                    raise ApiError(400, "send {\"name\": SIGNAL}: the signal the job's wait expects")
                args.append(signal)
            operations: dict[str, Callable[..., board_jobs.JobView]] = {
                "resume": board_jobs.resume, "revert": board_jobs.revert,
                "cancel": board_jobs.cancel, "signal": board_jobs.signal}
            operation = operations[action]
            view = operation(services.board, services.runner, found.run_id, *args)
            after = _Found(found.run_id, view, view.record, found.owner)
            item = _item(after)
            if action == "cancel" and view.owner is None:
                item.update(state="cancelled", on_board=False)
            return 202, {"job": item}
        return act

    return [
        Route("jobs_list", "/v1/jobs", ["GET"], listing),
        Route("jobs_submit", "/v1/jobs", ["POST"], submit),
        Route("jobs_show", "/v1/jobs/{job_id}", ["GET"], show),
        Route("jobs_graph", "/v1/jobs/{job_id}/graph", ["GET"], job_graph),
        *(Route(f"jobs_{a}", f"/v1/jobs/{{job_id}}/{a}", ["POST"], acting(a))
          for a in ("resume", "revert", "cancel", "signal")),
    ]
