"""The ``opsflow`` commands through the service API (``--api URL|catalog``) instead of ZooKeeper.

``opsflow --api URL CMD`` (or ``$OPSFLOW_API``, or ``--api`` after the command) sends ``submit``,
``resume``, ``revert``, ``cancel``, ``signal``, ``jobs list|show|watch``, ``flows list|show`` (the
built-ins the API offers), ``validate``, ``graph``, ``forklift report`` and ``reclaim list|keep`` to the API
as the user of the OpenStack client settings; the API applies its policy (a job of another
project does not exist, a reader may look but not act). Each command prints what its ZooKeeper
twin prints; the client (:mod:`opsflow.api.remote`) turns the API's errors into opsflow's, so
the one-line messages and exit codes are the same too.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from opsflow import cli_watch, output
from opsflow.api.remote import API_ENV, connect
from opsflow.engines.records import RunState, TaskState
from opsflow.errors import OpsflowError
from opsflow.flows import inputs as flow_inputs, loader
from opsflow.forklift import report as forklift_report
from opsflow.reclaim import operations

__all__ = ["act", "acted", "api_option", "flows_list", "flows_show", "forklift_reports", "graph", "jobs_list",
           "jobs_show", "jobs_watch", "keep", "reclaim_rows", "submit", "validate"]


def _from_root(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    root = ctx.find_root().obj or {}
    return value or root.get("api")


def api_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--api URL|catalog`` on a command; without it, ``opsflow --api`` (or ``$OPSFLOW_API``) applies."""
    return click.option("--api", "api", metavar="URL|catalog", callback=_from_root,
                        help=f"Through opsflow's API instead of ZooKeeper, as the OS_CLOUD user (default: "
                             f"opsflow --api, ${API_ENV}).")(func)


# -- jobs -------------------------------------------------------------------------------------------

#: The columns of ``opsflow jobs list``, and the API's field for each (None: tasks done of total).
_JOB_FIELDS = {"id": "id", "name": "name", "state": "state", "tasks done": None, "claimed by": "claimed_by",
               "due": "due", "submitted": "submitted", "parent": "parent_id"}


def _job_fields(job: dict[str, Any]) -> dict[str, Any]:
    return {c: f"{job['tasks_done']}/{job['tasks_total']}" if f is None else job.get(f) for c, f in _JOB_FIELDS.items()}


def jobs_list(api: str, fmt: str, columns: Sequence[str]) -> None:
    """``opsflow jobs list --api``: the same columns as from ZooKeeper."""
    with connect(api) as client:
        rows = [list(_job_fields(job).values()) for job in client.jobs()]
    click.echo(output.render_many(list(_JOB_FIELDS), rows, fmt, columns))


def jobs_show(api: str, job_id: str, fmt: str, columns: Sequence[str]) -> None:
    """``opsflow jobs show --api``: the job's fields, then its tasks."""
    with connect(api) as client:
        job = client.job(job_id)
    fields = _job_fields(job)
    fields["run state"], fields["project"] = job["run_state"], job["project_id"]
    tasks = [[t["path"], t["state"], t["duration"], t["error"]] for t in job["tasks"]]
    if fmt == "json":
        fields["tasks"] = [dict(zip(["path", "state", "duration", "error"], row)) for row in tasks]
        click.echo(output.render_one(fields, fmt, columns))
        return
    click.echo(output.render_one(fields, fmt, columns))
    click.echo(output.render_many(["task", "state", "seconds", "error"], tasks, fmt))


def jobs_watch(api: str, job_id: str, interval: float, timeout: float | None) -> None:
    """``opsflow jobs watch --api``: the same lines and exit codes as from ZooKeeper, one request a look."""
    with connect(api) as client:

        def look() -> cli_watch.Look:
            job = client.job(job_id)
            if not job["on_board"]:
                return cli_watch.Look(job["id"], job["state"], False, job["run_state"] == RunState.SUCCEEDED.value)
            fields = _job_fields(job)
            fields["running"] = ", ".join(t["path"] for t in job["tasks"] if t["state"] == TaskState.RUNNING)
            return cli_watch.Look(job["id"], job["state"], True, fields=fields)

        cli_watch.follow(look, interval, timeout)


def submit(api: str, file: str, pairs: Sequence[str], on_failure: str | None) -> None:
    """``opsflow submit FILE|NAME --api``: a file's text, or a built-in's name, with the inputs typed here."""
    local = Path(file).is_file() or file.endswith((".yaml", ".yml")) or "/" in file  # a missing file is named
    if local:  # bad YAML: the same line and exit code as without --api, before asking anyone
        definition = loader.load_file(file)
        body: dict[str, Any] = {"definition": Path(file).read_text(encoding="utf-8")}
    with connect(api) as client:
        if not local:  # the inputs' types come from the server's copy, which is what will run
            definition = loader.load_text(client.flow(file)["text"], f"<built-in {file}>")
            body = {"flow": file}
        body["inputs"] = flow_inputs.from_command_line(definition, list(pairs))
        if on_failure:
            body["on_failure"] = on_failure
        job = client.submit(body)
    click.echo(job["id"])
    click.echo(f"submitted job {job['id']} ({job['name']}) into project {job['project_id']}; "
               f"`opsflow jobs show {job['id']} --api {api}` shows it", err=True)


def act(api: str, action: str, job_id: str, *args: str) -> None:
    """``opsflow resume|revert|cancel|signal --api``: the request, then what the board says now."""
    body = {"name": args[0]} if action == "signal" else None
    with connect(api) as client:
        job = client.act(job_id, action, body)
    click.echo(acted(action, job["id"], job["state"], *args))


def acted(action: str, run_id: str, state: str, *args: str) -> str:
    """What ``resume|revert|cancel|signal`` say once the board has the request (``state``: the job's now),
    through the API or straight on ZooKeeper (:func:`opsflow.cli_jobs.operate`)."""
    messages = {
        "resume": f"job {run_id} {state}: a conductor continues it",
        "revert": f"job {run_id} {state}: a conductor reverts it",
        "cancel": f"job {run_id} {state}: it leaves the board, nothing is undone (its run stays in the store)",
        "signal": f"signal {args[0] if args else ''!r} delivered to job {run_id} ({state})",
    }
    return messages[action]


# -- flows ------------------------------------------------------------------------------------------

def flows_list(api: str, fmt: str, columns: Sequence[str]) -> None:
    """``opsflow flows list --api``: the built-in flows the API runs (stored runs are its jobs)."""
    with connect(api) as client:
        found = client.flows()
    names = ["name", "tasks", "on_failure", "description"]
    click.echo(output.render_many(names, [[f[n] for n in names] for f in found], fmt, columns))


def flows_show(api: str, name: str, fmt: str, columns: Sequence[str]) -> None:
    """``opsflow flows show NAME --api``: a built-in flow the API runs, then its inputs (what ``submit`` takes)."""
    with connect(api) as client:
        flow = client.flow(name)
    fields = {n: flow[n] for n in ("name", "description", "on_failure", "tasks")}
    names = ["input", "type", "required", "default", "description"]
    rows = [[i["name"], i["type"], i["required"], i.get("default"), i["description"]] for i in flow["inputs"]]
    if fmt == "json":
        fields["inputs"] = [dict(zip(names, row)) for row in rows]
        click.echo(output.render_one(fields, fmt, columns))
        return
    click.echo(output.render_one(fields, fmt, columns))
    click.echo(output.render_many(names, rows, fmt))


def validate(api: str, files: Sequence[str]) -> None:
    """``opsflow validate --api``: each file checked by the server's loader; exit 1 if any is invalid."""
    failed = False
    with connect(api) as client:
        for path in files:
            try:
                text = Path(path).read_text(encoding="utf-8")
            except OSError as exc:
                click.echo(f"{path}: cannot read it: {exc.strerror}", err=True)
                failed = True
                continue
            reply = client.validate(text)
            if reply["valid"]:
                flow = reply["flow"]
                click.echo(f"{path}: ok ({flow['name']}, {flow['tasks']} tasks)")
            else:
                click.echo(reply["error"]["message"].replace("<upload>", path, 1), err=True)
                failed = True
    if failed:
        sys.exit(1)


def graph(api: str, name: str, fmt: str) -> str:
    """``opsflow graph NAME --api``: a built-in flow drawn by the server (svg), or one line per task (text)."""
    if fmt not in ("text", "svg"):
        raise click.UsageError(f"with --api the server draws the graph: --format text or svg, not {fmt}")
    with connect(api) as client:
        if fmt == "svg":
            return client.svg(name)
        tasks = client.graph(name)
    lines = [name] + [f"  {t['name']}: {t['what']}" + (f" (after {', '.join(t['after'])})" if t["after"] else "")
                      for t in tasks]
    return "\n".join(lines) + "\n"


# -- forklift and reclaim ---------------------------------------------------------------------------

def forklift_reports(api: str, run_id: str) -> list[forklift_report.ServerReport]:
    """``opsflow forklift report --api``: the API's rows as the report the CLI prints."""
    with connect(api) as client:
        found = client.forklift_report(run_id)
    try:
        return [forklift_report.ServerReport(**{**row, "outcome": forklift_report.Outcome(row["outcome"])})
                for row in found["servers"]]
    except (TypeError, ValueError) as exc:  # a server of another opsflow version
        raise OpsflowError(f"the opsflow API at {api} sent a forklift report this client cannot read: {exc}; "
                           f"use the same opsflow version on both sides") from exc


def reclaim_rows(api: str, all_projects: bool) -> list[list[Any]]:
    """``opsflow reclaim list --api``: the caller's project's servers (every project's for an admin who asks)."""
    with connect(api) as client:
        found = client.reclaim_servers(all_projects)
    return [[s["run_id" if column == "run" else column] for column in operations.COLUMNS] for s in found]


def keep(api: str, server: str, days: float) -> str:
    """``opsflow reclaim keep SERVER_ID --api``: the owner's keep; the sentence to print."""
    with connect(api) as client:
        kept = client.keep(server, days)
    return str(kept["message"]) + (f" (run {kept['run_id']} told)" if kept.get("run_id") else "")
