"""``opsflow devcloud up|down|status|logs``: the simulated cloud from the command line."""

from __future__ import annotations

import json
import logging
import sys

import click

from opsflow.devcloud import bringup, broker, configs, procs, profiles, scheduler_modes
from opsflow.devcloud.errors import BringUpFailed
from opsflow.devcloud.layout import Layout
from opsflow.errors import ConfigError, DefinitionError

__all__ = ["devcloud"]


def _sim(computes: int, boot_failure_rate: float, scheduler: str = "devcloud", report_interval: int = 10,
         service_down_time: int = 25, destination_computes: int | None = None,
         conductors: int = 1) -> configs.SimSettings:
    return configs.SimSettings(computes=computes, boot_failure_rate=boot_failure_rate,
                               scheduler=scheduler_modes.SchedulerMode(scheduler),
                               report_interval=report_interval, service_down_time=service_down_time,
                               destination_computes=destination_computes, conductors=conductors)


_computes = click.option("--computes", default=2, show_default=True, type=click.IntRange(1, 2000),
                         help="Simulated hypervisors per region.")
_destination = click.option("--destination-computes", type=click.IntRange(1, 2000), default=None,
                            help="Simulated hypervisors in region destination, if not --computes "
                                 "(a scale run: many in source, few here).")
_scheduler = click.option("--scheduler", default="devcloud", show_default=True,
                          type=click.Choice([m.value for m in scheduler_modes.SchedulerMode]),
                          help="How nova-scheduler places: the cloud's spread settings, nova's own "
                               "defaults, or nova's defaults plus opsflow's sampling filter and "
                               "runtime-aware weigher (state shared in memcached).")
_conductors = click.option("--conductors", default=1, show_default=True,
                           type=click.IntRange(1, bringup.MAX_CONDUCTORS),
                           help="nova-conductor processes per region (each at most one core): more for a "
                                "thousand hypervisors.")
_failure = click.option("--boot-failure-rate", default=0.0, show_default=True,
                        type=click.FloatRange(0, 1), help="Share of boots that end in ERROR.")


@click.group()
@click.option("--debug", is_flag=True, help="Log every step; show tracebacks.")
@click.pass_context
def devcloud(ctx: click.Context, debug: bool) -> None:
    """The simulated cloud: Keystone, Placement, Nova, Neutron, Glance in regions source and destination."""
    ctx.obj = {"debug": debug}
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.DEBUG if debug else logging.INFO,
                            format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr)


@devcloud.command()
@_computes
@_destination
@_failure
@_scheduler
@click.option("--report-interval", default=10, show_default=True, type=click.IntRange(1),
              help="Seconds between each simulated hypervisor's heartbeats (nova's report_interval).")
@click.option("--service-down-time", default=25, show_default=True, type=click.IntRange(1),
              help="Seconds without a heartbeat before nova calls a hypervisor down.")
@_conductors
@click.option("--fresh", is_flag=True, help="Rebuild from nothing even if it is up.")
@click.pass_context
def up(ctx: click.Context, computes: int, destination_computes: int | None, boot_failure_rate: float,
       scheduler: str, report_interval: int, service_down_time: int, conductors: int, fresh: bool) -> None:
    """Bring the simulated cloud up (quick and harmless when it already is)."""
    if service_down_time <= report_interval:
        raise click.BadParameter(f"{service_down_time} s is not longer than the heartbeat interval "
                                 f"({report_interval} s): every hypervisor would flap; give at least "
                                 f"{2 * report_interval + 1}", param_hint="--service-down-time")
    layout = Layout.default()
    try:
        said = bringup.up(layout, _sim(computes, boot_failure_rate, scheduler, report_interval, service_down_time,
                                       destination_computes, conductors), fresh=fresh)
    except BringUpFailed as exc:
        if ctx.obj["debug"]:
            raise
        click.echo(str(exc), err=True)
        sys.exit(1)
    click.echo(said)
    click.echo(f"clouds: {layout.clouds_yaml} (export OS_CLIENT_CONFIG_FILE={layout.clouds_yaml}; "
               "clouds devcloud-source, devcloud-destination and their -admin twins)")


@devcloud.command()
def down() -> None:
    """Stop the simulated cloud and remove its databases, queues and data (keeps the virtualenv)."""
    click.echo(bringup.down(Layout.default()))


@devcloud.command()
@_computes
@_destination
@_scheduler
@_conductors
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def status(computes: int, destination_computes: int | None, scheduler: str, conductors: int, fmt: str) -> None:
    """Each service with its port, pid and health; exit 1 unless all are ok."""
    rows = bringup.status(Layout.default(), _sim(computes, 0.0, scheduler, destination_computes=destination_computes,
                                                 conductors=conductors))
    if fmt == "json":
        click.echo(json.dumps([{"name": r.name, "region": r.region, "port": r.port, "pid": r.pid,
                                "health": r.health, "log": str(r.log)} for r in rows], indent=2))
    else:
        click.echo(f"{'service':<31}{'region':<13}{'port':>6}{'pid':>9}  health")
        for r in rows:
            click.echo(f"{r.name:<31}{r.region:<13}{r.port or '-':>6}{r.pid or '-':>9}  {r.health}")
    sys.exit(0 if all(r.health == "ok" for r in rows) else 1)


@devcloud.command()
@click.argument("service", required=False)
@click.option("-n", "--lines", default=40, show_default=True, help="Lines to show.")
def logs(service: str | None, lines: int) -> None:
    """Show the end of SERVICE's log, or list every log when no SERVICE is given."""
    layout = Layout.default()
    if service is None:
        for path in sorted(layout.logs.glob("*.log")):
            click.echo(str(path))
        return
    path = layout.logs / f"{service}.log"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in layout.logs.glob("*.log"))) or "none yet"
        click.echo(f"no log for {service!r} in {layout.logs} (known: {known})", err=True)
        sys.exit(1)
    click.echo(procs.log_tail(path, lines))


@devcloud.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def rabbitmqctl(args: tuple[str, ...]) -> None:
    """Run Debian's rabbitmqctl against this cloud's own broker (e.g. list_queues -p devcloud-source)."""
    try:
        click.echo(broker.ctl(Layout.default(), *args), nl=False)
    except BringUpFailed as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)


@devcloud.group()
def profile() -> None:
    """Behaviour profiles: latencies, failures, slow disks and flapping heartbeats per host group."""


@profile.command("apply")
@click.argument("path", type=click.Path(dir_okay=False))
def profile_apply(path: str) -> None:
    """Check the profile in PATH and make every simulated hypervisor follow it from now on."""
    try:
        loaded = profiles.load_file(path)
    except (DefinitionError, ConfigError) as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    for target in profiles.apply(Layout.default(), loaded):
        click.echo(f"applied {path} -> {target}")


@profile.command("clear")
def profile_clear() -> None:
    """Back to the configured timings everywhere."""
    profiles.clear(Layout.default())
    click.echo("behaviour profile cleared")
