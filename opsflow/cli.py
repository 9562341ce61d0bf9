"""The ``opsflow`` command: the only module that prints or configures logging.

Commands return columns and rows; :mod:`opsflow.output` renders them (``-f table|json|value``,
``-c COLUMN``). Exit codes: 0 ok, 1 failed, 2 usage, 130 interrupted, 141 broken pipe.
"""

from __future__ import annotations

import dataclasses
import datetime
import errno
import json
import logging
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from opsflow import (cli_api, cli_auth, cli_children, cli_forklift, cli_hibernate, cli_jobs, cli_options, cli_reclaim,
                     cli_remote, cli_sched, cli_simulate, output, registry)
from opsflow.api.remote import API_ENV
from opsflow.devcloud import cli as devcloud_cli
from opsflow.engines import retention
from opsflow.engines.atoms import FailurePoint
from opsflow.engines.records import RunRecord, RunState, TaskState
from opsflow.engines.runner import Runner
from opsflow.errors import (
    CloudNotFound,
    ConfigError,
    DefinitionError,
    ExpressionError,
    FlowNotFound,
    InvalidInput,
    InvalidState,
    OpsflowError,
    PlanError,
    PluginNotFound,
    RunOwned,
)
from opsflow.cli_interrupt import INTERRUPTED, Interrupts
from opsflow.flows import arguments, inputs as flow_inputs, loader, render
from opsflow.flows.model import OnFailure

__all__ = ["main"]

LOG = logging.getLogger(__name__)

#: Task states the progress display reports as they happen.
_REPORTED_TASK_STATES = (TaskState.FAILURE, TaskState.REVERTED)

#: Errors in what the user gave (a definition, an input, a setting, an id, a cloud's name, a plan):
#: exit 2, like usage errors.
INPUT_ERRORS = (DefinitionError, ExpressionError, InvalidInput, ConfigError, PluginNotFound, FlowNotFound,
                InvalidState, RunOwned, CloudNotFound, PlanError)


_format_options = cli_options.format_options
_state_option = cli_options.state_option()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.option("-v", "--verbose", is_flag=True, help="Show what each task does.")
@click.option("--api", envvar=API_ENV, metavar="URL|catalog",
              help=f"Send the job, flow, forklift report and reclaim commands to opsflow's API instead of ZooKeeper, "
                   f"as the OS_CLOUD user; `catalog` finds it in Keystone's catalog (default ${API_ENV}).")
@click.pass_context
def main(ctx: click.Context, debug: bool, verbose: bool, api: str | None) -> None:
    """opsflow: declarative, revertible, resumable flows for OpenStack operators."""
    ctx.obj = {"debug": debug, "api": api}
    level = logging.DEBUG if debug else (logging.INFO if verbose else logging.WARNING)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if not debug:
        logging.getLogger("taskflow").setLevel(logging.ERROR)


# -- definitions ------------------------------------------------------------------------------

@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@cli_remote.api_option
def validate(files: Sequence[str], api: str | None) -> None:
    """Check flow definitions without running anything (with --api: by the server's loader)."""
    if api:
        return cli_remote.validate(api, files)
    failed = False
    for path in files:
        try:
            definition = loader.load_file(path)
        except OpsflowError as exc:
            click.echo(str(exc), err=True)
            failed = True
        else:
            click.echo(f"{path}: ok ({definition.name}, {len(definition.tasks)} tasks)")
    if failed:
        sys.exit(1)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "dot", "svg", "png"]), default="text", show_default=True)
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False), help="Write here instead of stdout.")
@cli_remote.api_option
def graph(file: str, fmt: str, out: str | None, api: str | None) -> None:
    """Draw a flow: text outline, Graphviz DOT, or SVG/PNG (needs Graphviz's `dot`).

    With --api, FILE is the name of a built-in flow (`opsflow flows list --api`), drawn by the server.
    """
    if api:
        return _write(cli_remote.graph(api, file, fmt), out)
    definition = loader.load_file(file)
    if fmt == "text":
        _write(render.to_text(definition) + "\n", out)
        return
    dot = render.to_dot(definition)
    if fmt == "dot":
        _write(dot, out)
        return
    binary = shutil.which("dot")
    if binary is None:
        raise OpsflowError("SVG and PNG need Graphviz's `dot`: apt-get install graphviz (or use --format dot)")
    if out is None:
        raise click.UsageError(f"--format {fmt} writes a binary file: give -o FILE")
    done = subprocess.run([binary, f"-T{fmt}", "-o", out], input=dot.encode(), capture_output=True, check=False)
    if done.returncode != 0:
        reason = (done.stderr.decode(errors="replace").strip().splitlines() or [f"exit status {done.returncode}"])[0]
        raise OpsflowError(f"Graphviz's `dot` could not draw {file} as {fmt}: {reason}")
    click.echo(out)


def _write(text: str, out: str | None) -> None:
    if out is None:
        click.echo(text, nl=False)
    else:
        with open(out, "w", encoding="utf-8") as handle:
            handle.write(text)


# -- runs -------------------------------------------------------------------------------------

class _ProgressObserver:
    """A live progress bar of finished tasks and the ones running now."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), console=console, transient=False)
        self._bar: Any = None
        self._running: set[str] = set()

    def __enter__(self) -> _ProgressObserver:
        self._progress.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._progress.stop()

    def started(self, run_id: str, tasks: int) -> None:
        self._progress.console.print(f"run {run_id} started ({tasks} tasks)")
        if self._bar is None:
            self._bar = self._progress.add_task(f"run {run_id[:8]}", total=tasks)

    def task(self, path: str, state: str) -> None:
        if state == TaskState.RUNNING:
            self._running.add(path)
        else:
            self._running.discard(path)
        if state == TaskState.SUCCESS:
            self._progress.advance(self._bar)
        elif state in _REPORTED_TASK_STATES:
            self._progress.console.print(f"[yellow]{path}: {state.lower()}[/]")
        shown = ", ".join(sorted(self._running)[:3]) + (" ..." if len(self._running) > 3 else "")
        self._progress.update(self._bar, description=shown or "idle")


class _PlainObserver:
    """Progress for pipes and logs: the run id at the start, failures as they happen."""

    def started(self, run_id: str, tasks: int) -> None:
        click.echo(f"run {run_id} started ({tasks} tasks)", err=True)

    def task(self, path: str, state: str) -> None:
        if state in _REPORTED_TASK_STATES:
            click.echo(f"{path}: {state.lower()}", err=True)


def _finish(record: RunRecord, as_json: bool) -> None:
    """Print a run's outcome and exit 0 (succeeded or waiting) or 1 (anything else)."""
    if as_json:
        click.echo(json.dumps(_record_fields(record, with_tasks=True), indent=2, default=str))
    else:
        click.echo(f"run {record.run_id} {record.state.value}")
        for task in record.steps:
            if task.path in record.waiting:
                click.echo(f"  {task.path}: {record.waiting[task.path]}", err=True)
            elif task.error and task.state is not TaskState.SUCCESS:
                click.echo(f"  {task.path}: {task.state.lower()}: {task.error}", err=True)
        hints = {
            RunState.PAUSED: f"fix the cause, then `opsflow resume {record.run_id}` or `opsflow revert {record.run_id}`",
            RunState.WAITING: f"waiting; `opsflow resume {record.run_id}` continues it when due",
            RunState.FAILED: "a revert failed: see `opsflow flows show` for the task and clean up by hand",
        }
        if record.state in hints:
            click.echo(hints[record.state], err=True)
    if record.state not in (RunState.SUCCEEDED, RunState.WAITING):
        sys.exit(1)


def drive(state_url: str, as_json: bool, operation: Callable[[Runner], RunRecord], create: bool = True) -> None:
    """Run ``operation`` with progress on a terminal and Ctrl-C handling; print the outcome; exit 1 unless it
    succeeded or waits, 130 when interrupted."""
    console = Console(stderr=True)
    if as_json or not console.is_terminal:
        with Runner(state_url, observer=_PlainObserver(), create=create) as runner, Interrupts(runner) as interrupts:
            record = operation(runner)
    else:
        with _ProgressObserver(console) as observer, Runner(state_url, observer=observer, create=create) as runner, \
                Interrupts(runner) as interrupts:
            record = operation(runner)
    if interrupts.count:
        _interrupted(record, as_json)
    _finish(record, as_json)


def _interrupted(record: RunRecord, as_json: bool) -> NoReturn:
    """After Ctrl-C: say where the run stopped and how to continue it; exit 130."""
    if as_json:
        click.echo(json.dumps(_record_fields(record, with_tasks=True), indent=2, default=str))
    else:
        click.echo(f"run {record.run_id} {record.state.value}")
    if record.state not in (RunState.SUCCEEDED, RunState.REVERTED):
        click.echo(f"interrupted; `opsflow resume {record.run_id}` continues it "
                   f"(or `opsflow revert {record.run_id}` undoes it)", err=True)
    sys.exit(INTERRUPTED)


def failure_points(values: Sequence[str]) -> tuple[FailurePoint, ...]:
    """``--inject-failure`` values parsed; a malformed one is a usage error (exit 2)."""
    try:
        return tuple(FailurePoint.parse(value) for value in values)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-i", "--input", "pairs", multiple=True, metavar="NAME=VALUE", help="An input (repeatable).")
@click.option("--on-failure", type=click.Choice(["revert", "pause"]), help="Override the definition's on_failure.")
@click.option("--inject-failure", multiple=True, metavar="TASK[:before|after]",
              help="Make matching tasks fail (glob on task paths), to rehearse reverts.")
@click.option("--no-wait", is_flag=True, help="Return when the run reaches a durable wait instead of holding it.")
@click.option("--json", "as_json", is_flag=True, help="Print the final record as JSON.")
@_state_option
def run(file: str, pairs: Sequence[str], on_failure: str | None, inject_failure: Sequence[str], no_wait: bool,
        as_json: bool, state_url: str) -> None:
    """Run a flow here, with its state saved so it can be resumed or reverted."""
    definition = loader.load_file(file)
    if on_failure:
        definition = dataclasses.replace(definition, on_failure=OnFailure(on_failure))
    values = flow_inputs.from_command_line(definition, list(pairs))
    points = failure_points(inject_failure)
    drive(state_url, as_json,
           lambda runner: runner.run(definition, values, failure_points=points, hold_waits=not no_wait))


_zookeeper_option = cli_options.zookeeper_option("Act on the job on this jobboard (conductors do the work), "
                                              "not a local run")


@main.command()
@click.argument("run_id")
@click.option("--no-wait", is_flag=True, help="Return at a durable wait instead of holding it.")
@click.option("--json", "as_json", is_flag=True)
@_state_option
@_zookeeper_option
@cli_remote.api_option
def resume(run_id: str, no_wait: bool, as_json: bool, state_url: str, zookeeper: str | None, api: str | None) -> None:
    """Continue a stopped run; completed tasks are not run again."""
    if api:
        return cli_remote.act(api, "resume", run_id)
    if zookeeper:
        return cli_jobs.operate("resume", zookeeper, run_id)
    drive(state_url, as_json, lambda runner: runner.resume(run_id, hold_waits=not no_wait), create=False)


@main.command()
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True)
@_state_option
@_zookeeper_option
@cli_remote.api_option
def revert(run_id: str, as_json: bool, state_url: str, zookeeper: str | None, api: str | None) -> None:
    """Undo every completed task of a stopped run, in reverse order."""
    if api:
        return cli_remote.act(api, "revert", run_id)
    if zookeeper:
        return cli_jobs.operate("revert", zookeeper, run_id)
    with Runner(state_url, observer=_PlainObserver(), create=False) as runner, Interrupts(runner) as interrupts:
        record = runner.revert(run_id)
    if interrupts.count:
        _interrupted(record, as_json)
    if as_json:
        click.echo(json.dumps(_record_fields(record, with_tasks=True), indent=2, default=str))
    else:
        click.echo(f"run {record.run_id} {record.state.value}")
    if record.state is not RunState.REVERTED:
        sys.exit(1)


@main.command()
@click.argument("run_id")
@click.argument("name")
@_state_option
@_zookeeper_option
@cli_remote.api_option
def signal(run_id: str, name: str, state_url: str, zookeeper: str | None, api: str | None) -> None:
    """Deliver a signal to a run (ends a core.wait waiting for it)."""
    if api:
        return cli_remote.act(api, "signal", run_id, name)
    if zookeeper:
        return cli_jobs.operate("signal", zookeeper, run_id, name)
    with Runner(state_url, create=False) as runner:
        runner.signal(run_id, name)
    click.echo(f"signal {name!r} delivered to run {run_id}")


@main.group()
def flows() -> None:
    """Stored runs."""


def _record_fields(record: RunRecord, with_tasks: bool = False) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "id": record.run_id,
        "name": record.name,
        "state": record.state.value,
        "created": datetime.datetime.fromtimestamp(record.created, datetime.timezone.utc).isoformat(
            timespec="seconds"),
        "inputs": dict(record.inputs),
        "waits": dict(record.waiting),
        "parent": f"{record.parent.run_id} ({record.parent.task}[{record.parent.index}])" if record.parent else None,
    }
    if with_tasks:
        fields["tasks"] = [
            {"path": t.path, "state": "WAITING" if t.path in record.waiting else t.state, "duration": t.duration,
             "error": record.waiting.get(t.path, t.error), "result": t.result}
            for t in record.steps
        ]
    return fields


@flows.command("list")
@click.option("--children", "with_children", is_flag=True,
              help="List child runs too (one per item of a batch), with their parent's id.")
@_format_options
@_state_option
@cli_remote.api_option
def flows_list(with_children: bool, fmt: str, columns: Sequence[str], state_url: str, api: str | None) -> None:
    """List stored runs, newest first (child runs only with --children: `flows show PARENT` lists them).

    With --api: the built-in flows the API runs (`opsflow submit --api` and `graph --api` take their names);
    its stored runs are its jobs (`opsflow jobs list --api`).
    """
    if api:
        return cli_remote.flows_list(api, fmt, columns)
    with Runner(state_url, create=False) as runner:
        records = [r for r in runner.runs() if with_children or r.parent is None]
        leases = runner.leases()
    for damaged in records:
        if damaged.damage is not None:
            click.echo(f"opsflow: run {damaged.run_id} is damaged: {damaged.damage}", err=True)
    names = ["id", "name", "state", "tasks done", "created"]
    rows = [[r.run_id, r.name, r.state.value, cli_children.done(r), _record_fields(r)["created"]] for r in records]
    names.append("owner")  # pid@host (live) while a process drives it, (lapsed) once that one died
    for row, r in zip(rows, records):
        row.append(leases[r.run_id].owner if r.run_id in leases else None)
    if with_children:
        names.append("parent")
        for row, r in zip(rows, records):
            row.append(r.parent.run_id if r.parent else None)
    click.echo(output.render_many(names, rows, fmt, columns))


@flows.command("show")
@click.argument("run_id", metavar="RUN_ID|NAME")
@_format_options
@_state_option
@cli_remote.api_option
def flows_show(run_id: str, fmt: str, columns: Sequence[str], state_url: str, api: str | None) -> None:
    """Show one run: every task's state, duration and error.

    With --api: the built-in flow NAME the API runs (`opsflow flows list --api`), and the inputs
    `opsflow submit NAME --api` takes; its runs are its jobs (`opsflow jobs show --api`).
    """
    if api:
        return cli_remote.flows_show(api, run_id, fmt, columns)
    with Runner(state_url, create=False) as runner:
        record = runner.record(run_id)
        children = runner.children_of(record.run_id)
    child_rows = cli_children.child_rows(children)
    if fmt == "json":
        fields = _record_fields(record, with_tasks=True)
        fields["children"] = [dict(zip(cli_children.CHILD_COLUMNS, row)) for row in child_rows]
        click.echo(output.render_one(fields, fmt, columns))
        return
    click.echo(output.render_one(_record_fields(record), fmt, columns))
    tasks = _record_fields(record, with_tasks=True)["tasks"]
    rows = [[t["path"], t["state"], t["duration"], t["error"]] for t in tasks]
    click.echo(output.render_many(["task", "state", "seconds", "error"], rows, fmt))
    if child_rows:
        click.echo(output.render_many(cli_children.CHILD_COLUMNS, child_rows, fmt))


@flows.command("prune")
@click.option("--older-than", "older_than", metavar="DURATION",
              help="Prune finished runs that ended longer ago than this (90s, 30m, 12h, 7d, 2w).")
@click.option("--keep", type=click.IntRange(0), metavar="N", help="Keep the newest N finished runs whole.")
@click.option("--dry-run", is_flag=True, help="Only list what would be pruned.")
@_format_options
@_state_option
@cli_options.zookeeper_option("Prune the distributed mode's runs, and their job nodes and holds, on this jobboard")
def flows_prune(older_than: str | None, keep: int | None, dry_run: bool, fmt: str, columns: Sequence[str],
                state_url: str, zookeeper: str | None) -> None:
    """Drop the per-task detail of finished runs (succeeded, reverted), keeping a summary of each.

    Without --older-than and --keep the defaults apply: older than 7d, or beyond the newest 1000.
    Failed runs are never pruned; child runs go with their parent.
    """
    if older_than is None and keep is None:
        policy = retention.Policy()
    else:
        policy = retention.Policy(retention.parse_duration(older_than) if older_than is not None else None, keep)
    if zookeeper:
        with cli_jobs.connected(zookeeper) as (board, runner):
            pruned = runner.prune(policy, dry_run=dry_run, board=board)
    else:
        with Runner(state_url, create=False) as runner:
            pruned = runner.prune(policy, dry_run=dry_run)
    rows = [[r.run_id, r.name, r.state.value, _record_fields(r)["created"]] for r in pruned]
    click.echo(output.render_many(["id", "name", "state", "created"], rows, fmt, columns))
    click.echo(f"{'would prune' if dry_run else 'pruned'} {len(pruned)} finished runs", err=True)


# -- actions ----------------------------------------------------------------------------------

@main.group()
def actions() -> None:
    """Registered actions (entry points in opsflow.tasks)."""


@actions.command("list")
@_format_options
def actions_list(fmt: str, columns: Sequence[str]) -> None:
    """List every action with its arguments."""
    rows = []
    for name in registry.names(registry.ACTIONS):
        try:
            cls = registry.fetch(registry.ACTIONS, name)
        except OpsflowError as exc:
            rows.append([name, "", f"cannot load: {exc}"])
            continue
        params = ", ".join(arguments.parameters(cls))
        rows.append([name, params, (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""])
    click.echo(output.render_many(["name", "arguments", "description"], rows, fmt, columns))


@actions.command("show")
@click.argument("name")
@_format_options
def actions_show(name: str, fmt: str, columns: Sequence[str]) -> None:
    """Show one action's arguments (read from its code) and its documentation."""
    cls = registry.fetch(registry.ACTIONS, name)
    rows = []
    for pname, param in arguments.parameters(cls).items():
        annotation = param.annotation if isinstance(param.annotation, str) else getattr(param.annotation, "__name__", "")
        default = "(required)" if param.default is param.empty else repr(param.default)
        rows.append([pname, annotation, default])
    if fmt == "table":
        click.echo(f"{name}: {(cls.__doc__ or '').strip()}")
        click.echo(f"revert: {(cls.revert.__doc__ or 'default').strip()}")
    click.echo(output.render_many(["argument", "type", "default"], rows, fmt, columns))


def _register_optional_commands() -> None:
    """Command groups that live with their subsystem (devcloud, conductor, ...)."""
    for command in cli_jobs.COMMANDS:
        main.add_command(command)
    main.add_command(devcloud_cli.devcloud)
    main.add_command(cli_forklift.forklift)
    for command in (*cli_hibernate.COMMANDS, *cli_auth.COMMANDS):
        main.add_command(command)
    main.add_command(cli_sched.sched)
    for command in cli_api.COMMANDS:
        main.add_command(command)
    main.add_command(cli_reclaim.reclaim)
    main.add_command(cli_simulate.simulate)


_register_optional_commands()


def run_main(argv: Sequence[str] | None = None) -> NoReturn:
    """Entry point with opsflow's exit codes and one-line errors."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        main.main(args=list(argv) if argv is not None else None, prog_name="opsflow", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        exc.show()
        sys.exit(2)
    except click.Abort:
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(141)
    except OpsflowError as exc:
        if debug:
            raise
        click.echo(f"opsflow: {exc}", err=True)
        sys.exit(2 if isinstance(exc, INPUT_ERRORS) else 1)
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            sys.exit(141)
        raise
    sys.exit(0)
