"""The distributed mode's commands: ``submit``, ``conductor``, ``jobs list|show|watch|conductors``, ``cancel``.

``opsflow resume|revert|signal --zookeeper HOSTS`` come here too (through :func:`operate`): with an
address they hand the work to conductors instead of running the flow in this process. Registered
by :func:`opsflow.cli._register_optional_commands`; logic lives in :mod:`opsflow.jobs` and
:mod:`opsflow.conductor`, this module only parses and renders.
"""

from __future__ import annotations

import dataclasses
import datetime
import faulthandler
import logging
import signal as signals
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click

from opsflow import cli_children, cli_options, cli_remote, cli_watch, jobs, output
from opsflow.conductor import Conductor, OffsetFileClock
from opsflow.engines import retention
from opsflow.engines.jobboard import ZOOKEEPER_ENV, Address, JobBoard, JobEntry
from opsflow.engines.records import RunState, TaskState
from opsflow.engines.runner import Runner
from opsflow.errors import FlowNotFound
from opsflow.flows import inputs as flow_inputs, loader
from opsflow.flows.model import OnFailure

__all__ = ["COMMANDS", "operate"]


_zookeeper_option = cli_options.zookeeper_option()
_format_options = cli_options.format_options


def _address(zookeeper: str | None, timeout: float = 4.0) -> Address:
    ctx = click.get_current_context(silent=True)
    if not (ctx and ctx.find_root().obj and ctx.find_root().obj.get("debug")):
        # kazoo logs every failed connection attempt; the one error line says it all.
        logging.getLogger("kazoo.client").setLevel(logging.ERROR)
    if not zookeeper:
        raise click.UsageError(f"say where the jobboard is: --zookeeper HOSTS[/ROOT] or ${ZOOKEEPER_ENV}")
    return Address.parse(zookeeper, timeout)


@contextmanager
def _connected(zookeeper: str | None) -> Iterator[tuple[JobBoard, Runner]]:
    address = _address(zookeeper)
    with JobBoard(address) as board, Runner(address.state_url) as runner:
        yield board, runner


#: The board and a runner on its state, for commands of other modules (``flows prune --zookeeper``).
connected = _connected


def _when(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.datetime.fromtimestamp(moment, datetime.timezone.utc).isoformat(timespec="seconds")


def _fields(job: jobs.JobView) -> dict[str, Any]:
    tasks = job.record.steps if job.record else ()
    return {
        "id": job.entry.run_id,
        "name": job.entry.name,
        "state": job.state,
        "tasks done": f"{sum(t.state is TaskState.SUCCESS for t in tasks)}/{len(tasks)}",
        "running": ", ".join(t.path for t in tasks if t.state is TaskState.RUNNING),
        "claimed by": job.owner,
        "due": _when(job.due),
        "submitted": _when(job.entry.submitted),
        "run state": job.record.state.value if job.record else None,
        "parent": job.record.parent.run_id if job.record and job.record.parent else None,
        "owner": job.lease.owner if job.lease is not None else None,
        "reason": job.reason,
    }


# -- submitting and serving ---------------------------------------------------------------------

@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-i", "--input", "pairs", multiple=True, metavar="NAME=VALUE", help="An input (repeatable).")
@click.option("--on-failure", type=click.Choice(["revert", "pause"]), help="Override the definition's on_failure.")
@_zookeeper_option
@cli_remote.api_option
def submit(file: str, pairs: Sequence[str], on_failure: str | None, zookeeper: str | None, api: str | None) -> None:
    """Post a flow as a job for conductors to run; prints the job id.

    The job carries the definition (sub-flows included) and its inputs: conductors need no copy.
    Through --api the job belongs to your project, sub-flows may name built-in flows only, and FILE may be a
    built-in flow's name (`opsflow flows list --api`).
    """
    if api:
        return cli_remote.submit(api, file, pairs, on_failure)
    definition = loader.load_file(file)
    if on_failure:
        definition = dataclasses.replace(definition, on_failure=OnFailure(on_failure))
    values = flow_inputs.from_command_line(definition, list(pairs))
    with _connected(zookeeper) as (board, runner):
        run_id = jobs.submit(board, runner, definition, values)
    click.echo(run_id)
    click.echo(f"submitted job {run_id} ({definition.name}); `opsflow jobs watch {run_id}` follows it", err=True)


@click.command()
@_zookeeper_option
@click.option("--jobs", "max_jobs", type=click.IntRange(1), default=4, show_default=True,
              help="Jobs run at once.")
@click.option("--workers", type=click.IntRange(1), default=8, show_default=True,
              help="Threads running tasks, shared by the jobs.")
@click.option("--name", help="Name shown as the claim holder (default HOST-PID).")
@click.option("--session-timeout", type=click.FloatRange(min=0.5), default=4.0, show_default=True,
              help="ZooKeeper session timeout (s): how soon a dead conductor's jobs are taken over. "
                   "The server's floor is 2 x tickTime.")
@click.option("--clock-file", type=click.Path(dir_okay=False),
              help="Add the number of seconds in this file to the clock (rehearse long waits).")
@click.option("--outage-bound", type=click.FloatRange(min=0), default=None,
              help="Seconds a ZooKeeper outage only pauses the runs (no task starts meanwhile); past it their "
                   "jobs are let go for any conductor to continue. Default: the session timeout.")
@click.option("--retain-for", "retain_for", default="7d", show_default=True, metavar="DURATION",
              help="Prune finished runs' task detail this long after they end (a summary stays).")
@click.option("--retain-count", "retain_count", type=click.IntRange(0), default=retention.DEFAULT_KEEP,
              show_default=True, help="Keep at most this many finished runs whole.")
@click.option("--prune-every", "prune_every", default="10m", show_default=True, metavar="DURATION",
              help="How often to prune (0: never; conductors take turns).")
def conductor(zookeeper: str | None, max_jobs: int, workers: int, name: str | None, session_timeout: float,
              clock_file: str | None, outage_bound: float | None, retain_for: str, retain_count: int,
              prune_every: str) -> None:
    """Claim jobs from the jobboard and run them until SIGTERM (then release them and exit 0).

    SIGUSR1 prints every thread's stack to stderr: what a conductor that seems stuck is waiting for.
    """
    daemon = Conductor(_address(zookeeper, session_timeout), name=name, max_jobs=max_jobs, workers=workers,
                       clock=OffsetFileClock(clock_file) if clock_file else None, outage_bound=outage_bound,
                       retain=retention.Policy(retention.parse_duration(retain_for), retain_count),
                       prune_every=retention.parse_duration(prune_every))

    def on_signal(signum: int, _frame: Any) -> None:
        # Event.set takes a lock the interrupted main thread may hold: set it from another thread.
        threading.Thread(target=daemon.stop, name="opsflow-stop").start()

    for signum in (signals.SIGTERM, signals.SIGINT):
        signals.signal(signum, on_signal)
    faulthandler.register(signals.SIGUSR1, all_threads=True)
    click.echo(f"conductor {daemon.name} starting on {daemon.address}", err=True)
    daemon.run()


# -- looking ------------------------------------------------------------------------------------

@click.group("jobs")
def jobs_group() -> None:
    """Jobs on the ZooKeeper jobboard (submitted with `opsflow submit`)."""


@jobs_group.command("list")
@_format_options
@_zookeeper_option
@cli_remote.api_option
def jobs_list(fmt: str, columns: Sequence[str], zookeeper: str | None, api: str | None) -> None:
    """List the jobs on the board with their state, progress and claim holder, oldest first (a child run's job
    names its parent run)."""
    if api:
        return cli_remote.jobs_list(api, fmt, columns)
    with _connected(zookeeper) as (board, runner):
        found = jobs.views(board, runner)
    names = ["id", "name", "state", "tasks done", "claimed by", "owner", "due", "submitted", "parent"]
    rows = [[_fields(job)[n] for n in names] for job in found]
    click.echo(output.render_many(names, rows, fmt, columns))


@jobs_group.command("show")
@click.argument("job_id")
@_format_options
@_zookeeper_option
@cli_remote.api_option
def jobs_show(job_id: str, fmt: str, columns: Sequence[str], zookeeper: str | None, api: str | None) -> None:
    """Show one job: state, claim holder, and every task's state, duration and error."""
    if api:
        return cli_remote.jobs_show(api, job_id, fmt, columns)
    with _connected(zookeeper) as (board, runner):
        try:
            job = jobs.view(board, runner, job_id)
        except FlowNotFound:  # a finished job has left the board; its run stays in the store
            record = runner.record(job_id)
            job = jobs.JobView(JobEntry("", record.run_id, record.name, "", record.created, False), None, None, record)
        children = cli_children.child_rows(runner.children_of(job.entry.run_id))
    tasks = [[t.path, t.state, t.duration, t.error] for t in (job.record.steps if job.record else ())]
    fields = _fields(job)
    if not job.entry.node and job.record is not None:
        fields["state"] = job.record.state.value
    if fmt == "json":
        fields["tasks"] = [dict(zip(["path", "state", "duration", "error"], row)) for row in tasks]
        fields["children"] = [dict(zip(cli_children.CHILD_COLUMNS, row)) for row in children]
        click.echo(output.render_one(fields, fmt, columns))
        return
    click.echo(output.render_one(fields, fmt, columns))
    click.echo(output.render_many(["task", "state", "seconds", "error"], tasks, fmt))
    if children:
        click.echo(output.render_many(cli_children.CHILD_COLUMNS, children, fmt))


@jobs_group.command("watch")
@click.argument("job_id")
@click.option("--interval", type=click.FloatRange(min=0.1), default=1.0, show_default=True,
              help="Seconds between looks.")
@click.option("--timeout", type=click.FloatRange(min=0), help="Give up (exit 1) after this many seconds.")
@_zookeeper_option
@cli_remote.api_option
def jobs_watch(job_id: str, interval: float, timeout: float | None, zookeeper: str | None, api: str | None) -> None:
    """Follow a job until it ends (exit 0 if it succeeded) or needs an operator (paused, failed: exit 1)."""
    if api:
        return cli_remote.jobs_watch(api, job_id, interval, timeout)
    with _connected(zookeeper) as (board, runner):
        try:
            run_id = board.find(job_id).run_id
        except FlowNotFound as missing:  # finished and consumed already, or unknown
            try:
                run_id = runner.record(job_id).run_id
            except FlowNotFound:
                raise missing from None

        def look() -> cli_watch.Look:
            try:
                job = jobs.view(board, runner, run_id)
            except FlowNotFound:  # consumed: the run has ended
                record = runner.record(run_id)
                return cli_watch.Look(run_id, record.state.value, False, record.state is RunState.SUCCEEDED)
            return cli_watch.Look(run_id, job.state, True, fields=_fields(job))

        cli_watch.follow(look, interval, timeout)


@jobs_group.command("conductors")
@_format_options
@_zookeeper_option
def jobs_conductors(fmt: str, columns: Sequence[str], zookeeper: str | None) -> None:
    """List the live conductors, the jobs each holds and how many it finished."""
    with JobBoard(_address(zookeeper)) as board:
        found = board.conductors()
    rows = [[name, info.get("host"), info.get("pid"), ", ".join(info.get("jobs", [])),
             f"{len(info.get('jobs', []))}/{info.get('capacity')}", info.get("completed")]
            for name, info in sorted(found.items())]
    click.echo(output.render_many(["name", "host", "pid", "jobs", "busy", "completed"], rows, fmt, columns))


# -- acting -------------------------------------------------------------------------------------

@click.command()
@click.argument("job_id")
@_zookeeper_option
@cli_remote.api_option
def cancel(job_id: str, zookeeper: str | None, api: str | None) -> None:
    """Take a job off the board (a running one stops first); nothing is undone, its run stays stored."""
    if api:
        return cli_remote.act(api, "cancel", job_id)
    operate("cancel", zookeeper, job_id)


def operate(action: str, zookeeper: str | None, job_id: str, *args: str) -> None:
    """Resume, revert, cancel or signal a job through the jobboard; print what conductors will do."""
    operations: dict[str, Callable[..., jobs.JobView]] = {
        "resume": jobs.resume, "revert": jobs.revert, "cancel": jobs.cancel, "signal": jobs.signal,
    }
    with _connected(zookeeper) as (board, runner):
        job = operations[action](board, runner, job_id, *args)
    cancelled = action == "cancel" and not job.owner  # unclaimed: it left the board at once
    click.echo(cli_remote.acted(action, job.entry.run_id, "cancelled" if cancelled else job.state, *args))


#: What :func:`opsflow.cli._register_optional_commands` adds to ``opsflow``.
COMMANDS = (submit, conductor, jobs_group, cancel)
