"""``opsflow forklift``: plan a migration, apply a plan, move servers in one go, report on a run.

``opsflow forklift SERVER... --from CLOUD --to CLOUD`` plans and applies at once; ``plan`` writes
the editable YAML plan, ``apply`` runs one, ``report`` lists every server of a run. Clouds are named
as in ``clouds.yaml``. A bad plan file or an unknown cloud is one line on stderr and exit 2.

``apply --zookeeper HOSTS[/ROOT]`` (or ``$OPSFLOW_ZOOKEEPER``), and the one-shot form with it, posts
the batch as a job instead of running it here: every conductor on that board shares its child runs, and ``apply`` follows it with a
live progress line until it ends (``--no-wait``: print the job id and return).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from opsflow import cli_jobs, cli_options, cli_remote, output
from opsflow.engines.atoms import FailurePoint
from opsflow.engines.records import RunRecord
from opsflow.engines.runner import Runner
from opsflow.errors import PlanError
from opsflow.flows import yamldoc
from opsflow.forklift import apply as forklift_apply, plan as forklift_plan, report as forklift_report
from opsflow.forklift.plan import Plan
from opsflow.forklift.preflight import Problem
from opsflow.forklift.report import Outcome
from opsflow.tasks.migration import Mode

__all__ = ["forklift"]


_state = cli_options.state_option("State backend URL (as for opsflow run).")
_inject = click.option("--inject-failure", "inject", multiple=True, metavar="TASK[:before|after]",
                       help="Make matching tasks fail, e.g. 'move[3].copy' (rehearse reverts).")


def _clouds(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        click.option("--from", "source", required=True, metavar="CLOUD", help="Source cloud (clouds.yaml name)."),
        click.option("--to", "destination", required=True, metavar="CLOUD", help="Destination cloud."),
        click.option("--mode", type=click.Choice([m.value for m in Mode]), default=Mode.IMAGE.value,
                     show_default=True, help="image (Glance to Glance), cold or warm (host to host over SSH)."),
        click.option("--finish", type=click.Choice(forklift_plan.FINISHES), default="stop", show_default=True,
                     help="What becomes of each source server once its twin runs."),
        click.option("--mappings", "mappings_file", type=click.Path(dir_okay=False), metavar="FILE",
                     help="YAML: {flavors: {src: dst}, images: ..., networks: ..., security_groups: ...}."),
        click.option("--max-transfers", "transfers", type=click.IntRange(min=1), metavar="N",
                     help="At most N disk transfers at once in the whole batch (across all conductors)."),
        click.option("--max-per-source-host", "per_source_host", type=click.IntRange(min=1), metavar="N",
                     help="At most N transfers at once from one source hypervisor."),
        click.option("--max-per-destination-host", "per_destination_host", type=click.IntRange(min=1), metavar="N",
                     help="At most N transfers at once to one destination hypervisor."),
        click.option("--max-api-calls-per-second", "api_calls_per_second", type=click.IntRange(min=1), metavar="N",
                     help="At most N requests a second to each cloud from the whole batch (across all conductors)."),
        click.option("--max-bytes-per-second-per-host", "bytes_per_second_per_host", type=click.IntRange(min=1),
                     metavar="BYTES", help="At most BYTES a second of disk data out of one source hypervisor "
                     "and into one destination hypervisor (SSH copies and image streams alike)."),
    ]):
        func = option(func)
    return func


def _mappings(path: str | None) -> dict[str, dict[str, str]]:
    if not path:
        return {}
    data = yamldoc.read(path).value or {}
    if not isinstance(data, dict) or any(k not in forklift_plan.MAPPING_KINDS for k in data):
        raise PlanError(f"{path}: mappings map some of {', '.join(forklift_plan.MAPPING_KINDS)} to "
                        f"{{source name: destination name}}")
    return {str(k): {str(a): str(b) for a, b in (v or {}).items()} for k, v in data.items()}


def _limits(**given: int | None) -> dict[str, int]:
    return {key: value for key, value in given.items() if value is not None}


def _points(values: Sequence[str]) -> tuple[FailurePoint, ...]:
    try:
        return tuple(FailurePoint.parse(value) for value in values)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc


class _ServersOrCommand(click.Group):
    """Treats ``opsflow forklift web-1 --from A --to B`` as ``opsflow forklift move web-1 ...``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["move", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_ServersOrCommand)
def forklift() -> None:
    """Move servers between clouds: `opsflow forklift SERVER... --from CLOUD --to CLOUD`, or plan, then apply."""


def _blocking(problems: Sequence[Problem]) -> bool:
    """Print each problem on stderr; True when one of them stops a migration."""
    for problem in problems:
        click.echo(problem.line(), err=True)
    return any(problem.blocking for problem in problems)


@forklift.command("plan")
@click.argument("selection", nargs=-1, required=True)
@_clouds
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False), help="Write the plan here (default: stdout).")
def plan_command(selection: Sequence[str], source: str, destination: str, mode: str, finish: str,
                 mappings_file: str | None, out: str | None, **limits: int | None) -> None:
    """Check SELECTION (ids, name globs, project=, host=, tag=) and write an editable plan; exit 1 on a blocking problem."""
    made = forklift_apply.make(source, destination, selection, mode=Mode(mode), finish=finish,
                               mappings=_mappings(mappings_file),
                               limits=_limits(**limits))
    text = forklift_plan.dump(made)
    if out:
        Path(out).write_text(text, encoding="utf-8")
        click.echo(f"plan of {len(made.servers)} server(s) written to {out}", err=True)
    else:
        click.echo(text, nl=False)
    if _blocking(made.problems):
        sys.exit(1)


def _apply(made: Plan, problems: Sequence[Problem], state_url: str, inject: Sequence[str], fmt: str,
           zookeeper: str | None = None, wait: bool = True) -> None:
    if _blocking(problems):
        click.echo("opsflow: not moving anything while a problem above remains", err=True)
        sys.exit(1)
    if zookeeper:
        _apply_on_board(made, zookeeper, fmt, wait)
        return
    record = forklift_apply.run(made, state_url, failure_points=_points(inject))
    click.echo(f"run {record.run_id} {record.state.value}", err=True)
    with Runner(state_url) as runner:
        reports = forklift_report.of_run(runner, record.run_id)
    _report_and_exit(reports, fmt)


def _report_and_exit(reports: Sequence[forklift_report.ServerReport], fmt: str) -> None:
    _print_report(reports, fmt, ())
    if any(r.outcome is not Outcome.MOVED for r in reports):
        sys.exit(1)


def _apply_on_board(made: Plan, zookeeper: str, fmt: str, wait: bool) -> None:
    """Post the batch for the conductors; unless told not to, follow it to its end and report."""
    with cli_jobs.connected(zookeeper) as (board, runner):
        run_id = forklift_apply.submit(made, board, runner)
        click.echo(f"submitted forklift job {run_id} ({len(made.servers)} server(s)); "
                   f"`opsflow forklift report {run_id} --zookeeper {zookeeper}` shows it", err=True)
        if not wait:
            click.echo(run_id)
            return
        last = [""]

        def progress(record: RunRecord) -> None:
            line = forklift_report.summarize(forklift_report.of_run(runner, run_id)).line()
            if line != last[0]:
                last[0] = line
                click.echo(f"{record.state.value}: {line}", err=True)

        record = forklift_apply.follow(runner, run_id, progress)
        click.echo(f"run {record.run_id} {record.state.value}", err=True)
        _report_and_exit(forklift_report.of_run(runner, run_id), fmt)


def _running(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options of the commands that run a batch: here (--state, --inject-failure) or on a board."""
    options: list[cli_options.Decorator] = [
        _state,
        _inject,
        cli_options.format_option,
        cli_options.zookeeper_option("Post the batch as a job on this jobboard (every conductor shares its servers)"),
        click.option("--wait/--no-wait", default=True, show_default=True,
                     help="With --zookeeper: follow the job to its end and report, or print its id and return."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _refuse_failures_on_a_board(zookeeper: str | None, inject: Sequence[str]) -> None:
    """Before any cloud or board is asked: conductors take no failure points."""
    if zookeeper and inject:
        raise click.UsageError("--inject-failure rehearses a revert here, on the embedded engine; "
                               "drop --zookeeper to use it (conductors take no failure points)")


@forklift.command("apply")
@click.argument("plan_file", type=click.Path(dir_okay=False))
@_running
def apply_command(plan_file: str, state_url: str, inject: Sequence[str], fmt: str, zookeeper: str | None,
                  wait: bool) -> None:
    """Run a plan: every server its own child run; exit 1 unless every server moved."""
    _refuse_failures_on_a_board(zookeeper, inject)
    made = forklift_plan.load(plan_file)
    _apply(made, forklift_apply.check(made), state_url, inject, fmt, zookeeper, wait)


@forklift.command("move", hidden=True)
@click.argument("servers", nargs=-1, required=True)
@_clouds
@_running
def move_command(servers: Sequence[str], source: str, destination: str, mode: str, finish: str,
                 mappings_file: str | None, state_url: str, inject: Sequence[str], fmt: str, zookeeper: str | None,
                 wait: bool, **limits: int | None) -> None:
    """Plan and apply at once (with --zookeeper: plan here, then post the batch for the conductors)."""
    _refuse_failures_on_a_board(zookeeper, inject)
    made = forklift_apply.make(source, destination, servers, mode=Mode(mode), finish=finish,
                               mappings=_mappings(mappings_file),
                               limits=_limits(**limits))
    _apply(made, made.problems, state_url, inject, fmt, zookeeper, wait)


def _print_report(reports: Sequence[forklift_report.ServerReport], fmt: str, columns: Sequence[str]) -> None:
    summary = forklift_report.summarize(reports)
    if fmt == "json":
        rows = [{**{c: getattr(r, c) for c in forklift_report.COLUMNS}, "outcome": r.outcome.value} for r in reports]
        click.echo(json.dumps({"servers": rows, "summary": summary.__dict__}, indent=2, default=str))
        return
    rows_out = [[r.server, r.outcome.value, r.downtime, r.bytes, r.rate,
                 ", ".join(f"{k} {v:.1f}" for k, v in r.steps.items()) if fmt == "table" else r.steps,
                 r.error, r.run_id] for r in reports]
    click.echo(output.render_many(forklift_report.COLUMNS, rows_out, fmt, columns))
    if fmt == "table":
        click.echo(summary.line())


@forklift.command("report")
@click.argument("run_id")
@_state
@cli_options.format_options
@cli_options.zookeeper_option("Read a run of the distributed mode on this jobboard")
@cli_remote.api_option
def report_command(run_id: str, state_url: str, fmt: str, columns: Sequence[str], zookeeper: str | None,
                   api: str | None) -> None:
    """Every server of a forklift run: moved / reverted / failed / running, downtime, bytes, rate, steps."""
    if api:
        return _print_report(cli_remote.forklift_reports(api, run_id), fmt, columns)
    if zookeeper:
        with cli_jobs.connected(zookeeper) as (_board, runner):
            _print_report(forklift_report.of_run(runner, run_id), fmt, columns)
        return
    with Runner(state_url) as runner:
        reports = forklift_report.of_run(runner, run_id)
    _print_report(reports, fmt, columns)
