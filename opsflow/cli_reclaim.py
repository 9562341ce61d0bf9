"""``opsflow reclaim``: sweep for unused servers, keep or release one, read the audit log, serve keep links.

``scan`` lists candidates (``--dry-run`` changes nothing) and otherwise starts one reclaim run per
new candidate; ``keep`` records an owner's keep and then signals the run; ``serve-links`` is the
small endpoint behind the signed one-time links in the notices. With ``--zookeeper`` runs are jobs
for the conductors; without, the state is an SQLite file and ``scan`` drives the runs itself.
"""

from __future__ import annotations

import datetime
import json
import wsgiref.simple_server
from typing import Any

import click

from opsflow import cli_options, cli_remote, output
from opsflow.conductor import OffsetFileClock
from opsflow.reclaim import links, operations, policy as policies, sweep
from opsflow.tasks.base import Clock, SystemClock

__all__ = ["reclaim"]


def _site_options(func: Any) -> Any:
    func = click.option("--clock-file", type=click.Path(dir_okay=False),
                        help="Add the number of seconds in this file to the clock (rehearse long waits).")(func)
    func = cli_options.zookeeper_option("Jobboard of the conductors that run reclaim")(func)
    return cli_options.state_option("State backend URL, without --zookeeper.")(func)


_format_options = cli_options.format_options


def _clock(clock_file: str | None) -> Clock:
    return OffsetFileClock(clock_file) if clock_file else SystemClock()


def _when(moment: float) -> str:
    return datetime.datetime.fromtimestamp(moment, datetime.timezone.utc).isoformat(timespec="seconds")


@click.group()
def reclaim() -> None:
    """Find unused servers, tell their owners, wait, then keep, hibernate or delete them."""


@reclaim.command()
@click.option("--policy", "policy_file", required=True, type=click.Path(dir_okay=False), help="The policy YAML.")
@click.option("--dry-run", is_flag=True, help="List the candidates; change nothing.")
@click.option("--definition", type=click.Path(dir_okay=False), help="Your copy of reclaim.yaml.")
@_site_options
@_format_options
def scan(policy_file: str, dry_run: bool, definition: str | None, state_url: str, zookeeper: str | None,
         clock_file: str | None, fmt: str, columns: tuple[str, ...]) -> None:
    """Sweep the cloud for candidates (listing calls only) and start one run per new one."""
    rules = policies.load_file(policy_file)
    clock = _clock(clock_file)
    done = operations.scan(rules, operations.Site(state_url, zookeeper, clock=clock), clock, dry_run=dry_run,
                           definition=definition)
    click.echo(output.render_many(sweep.COLUMNS, [c.row() for c in done.sweep.candidates], fmt, columns))
    if fmt == "table":
        found = done.sweep
        click.echo(f"{len(found.candidates)} candidates, {len(found.excluded)} excluded, {found.calls} API calls "
                   f"({found.diagnostics_calls} diagnostics)" +
                   (" (dry run: nothing changed)" if dry_run else
                    f"; {len(done.started)} runs started, {len(done.resumed)} resumed, "
                    f"{len(done.cleared)} stale marks cleared"), err=True)


@reclaim.command()
@click.option("--policy", "policy_file", required=True, type=click.Path(dir_okay=False), help="The policy YAML.")
@click.option("--every", default="6h", show_default=True, help="Time between sweeps (30m, 6h, 1d).")
@cli_options.zookeeper_option("Jobboard of the conductors that run the sweeps", required=True)
def schedule(policy_file: str, every: str, zookeeper: str) -> None:
    """Make the sweep a job the conductors run every --every (one chain per policy; repeating changes nothing)."""
    from opsflow.errors import InvalidInput
    from opsflow.reclaim import schedule as schedules

    rules = policies.load_file(policy_file)
    try:
        seconds = policies.seconds(every)
    except ValueError as exc:
        raise InvalidInput(f"--every: {exc}") from None
    run_id, posted = schedules.post(rules, zookeeper, seconds, 1, SystemClock().now())
    click.echo(f"sweep {run_id} {'posted' if posted else 'already scheduled'}: every {every}")


@reclaim.command("list")
@_site_options
@_format_options
@cli_remote.api_option
@click.option("--all-projects", is_flag=True, help="With --api: every project's servers (admin).")
def list_(state_url: str, zookeeper: str | None, clock_file: str | None, fmt: str, columns: tuple[str, ...],
          api: str | None, all_projects: bool) -> None:
    """Servers with a reclaim cycle: its run and state, and the last thing that happened.

    With --api: your project's servers only (an admin's --all-projects: every project's).
    """
    if api:
        rows = cli_remote.reclaim_rows(api, all_projects)
    else:
        rows = operations.rows(operations.Site(state_url, zookeeper))
    click.echo(output.render_many(operations.COLUMNS, rows, fmt, columns))


@reclaim.command()
@click.argument("server", required=False)
@_site_options
@_format_options
def audit(server: str | None, state_url: str, zookeeper: str | None, clock_file: str | None, fmt: str,
          columns: tuple[str, ...]) -> None:
    """The audit log (of one server id): who did what, why and when."""
    with operations.Site(state_url, zookeeper).open() as (_runner, store, _board):
        events = store.events(server)
    rows = [[_when(e.at), e.server, e.action, e.actor, e.reason, e.run_id, json.dumps(dict(e.details))]
            for e in events]
    click.echo(output.render_many(["when", "server", "action", "who", "why", "run", "details"], rows, fmt, columns))


@reclaim.command()
@click.argument("server")
@_site_options
@_format_options
def show(server: str, state_url: str, zookeeper: str | None, clock_file: str | None, fmt: str,
         columns: tuple[str, ...]) -> None:
    """One server (id): its cycle, its run's state and its audit log."""
    site = operations.Site(state_url, zookeeper)
    with site.open() as (runner, store, _board):
        claim = store.claims().get(server)
        events = store.events(server)
        state = "" if claim is None else ("ended" if claim.closed else operations.status_of(runner, claim.run_id))
    if claim is not None and fmt == "table":
        click.echo(f"server {server}: cycle {claim.cycle}, run {claim.run_id}, {state}")
    rows = [[_when(e.at), e.action, e.actor, e.reason] for e in events]
    click.echo(output.render_many(["when", "action", "who", "why"], rows, fmt, columns))


@reclaim.command()
@click.argument("server")
@click.option("--days", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True,
              help="Keep it for this many days.")
@click.option("--cloud", envvar="OS_CLOUD", help="clouds.yaml name of an admin (default $OS_CLOUD).")
@_site_options
@cli_remote.api_option
def keep(server: str, days: float, cloud: str | None, state_url: str, zookeeper: str | None, clock_file: str | None,
         api: str | None) -> None:
    """Keep a server (name or id): recorded first, then its run is told; refused once it is being reclaimed.

    With --api: the server's id, kept as its owner (a member of its project) or an admin.
    """
    if api:
        return click.echo(cli_remote.keep(api, server, days))
    if not cloud:
        raise click.UsageError("say which cloud the server is in: --cloud NAME or $OS_CLOUD (or keep it through --api)")
    kept = operations.keep(operations.Site(state_url, zookeeper), cloud, server, days, "operator", _clock(clock_file))
    click.echo(kept.sentence() + (f" (run {kept.run_id} told)" if kept.run_id else ""))


@reclaim.command()
@click.argument("server")
@click.option("--cloud", envvar="OS_CLOUD", required=True, help="clouds.yaml name of an admin (default $OS_CLOUD).")
@_site_options
def release(server: str, cloud: str, state_url: str, zookeeper: str | None, clock_file: str | None) -> None:
    """Drop a server's keep, so the next sweep may pick it again."""
    server_id = operations.release(operations.Site(state_url, zookeeper), cloud, server, "operator",
                                   _clock(clock_file))
    click.echo(f"server {server_id}: keep dropped")


@reclaim.command("serve-links")
@click.option("--policy", "policy_file", required=True, type=click.Path(dir_okay=False), help="The policy YAML.")
@click.option("--port", type=int, default=8089, show_default=True, help="Port on 127.0.0.1.")
@_site_options
def serve_links(policy_file: str, port: int, state_url: str, zookeeper: str | None, clock_file: str | None) -> None:
    """Serve the signed keep links of the notices (GET shows, POST keeps) until Ctrl-C."""
    rules = policies.load_file(policy_file)
    clock = _clock(clock_file)
    app = links.application(links.key_of(rules.link_key),
                            operations.keeper(operations.Site(state_url, zookeeper), rules, clock), clock.now)
    with wsgiref.simple_server.make_server("127.0.0.1", port, app) as server:
        click.echo(f"keep links served on http://127.0.0.1:{port}/keep", err=True)
        server.serve_forever()
