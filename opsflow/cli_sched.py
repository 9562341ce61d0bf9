"""``opsflow sched``: the scheduling simulator from the command line."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import click

from opsflow import output
from opsflow.errors import DefinitionError
from opsflow.sched import cost, engine, metrics, profile, report

__all__ = ["sched"]

_COLUMNS = ["policy", "placed", "rejected", "fleet_max_mean", "burst_max_mean", "herding", "conflicts",
            "retries", "evaluations", "us_per_decision"]


@click.group()
def sched() -> None:
    """Compare nova's scheduler with other placement policies on simulated traffic."""


def _load(path: str) -> profile.Profile:
    try:
        return profile.load_file(path)
    except DefinitionError as exc:
        click.echo(f"opsflow: {exc}", err=True)
        sys.exit(2)


@sched.command()
@click.option("--profile", "profile_path", required=True, type=click.Path(dir_okay=False),
              help="Traffic profile (YAML); see examples/sched/.")
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False), default=None,
              help="Markdown report to write (plots beside it); default sched-report/<profile name>.md.")
@click.option("--policy", "only", multiple=True, type=click.Choice([p.value for p in profile.PolicyName]),
              help="Run only these policies (repeatable); default: the profile's list.")
@click.option("--cost-hosts", default=None, help="Fleet sizes for the decision-cost sweep, e.g. 100,1000,10000.")
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "json", "value"]), default="table")
def simulate(profile_path: str, out: str | None, only: tuple[str, ...], cost_hosts: str | None, fmt: str) -> None:
    """Run every policy over PROFILE and write a markdown report with plots and tables."""
    prof = _load(profile_path)
    if only:
        prof = dataclasses.replace(prof, policies=tuple(profile.PolicyName(p) for p in only))
    sizes = None
    if cost_hosts:
        try:
            sizes = tuple(int(x) for x in cost_hosts.split(","))
        except ValueError:
            raise click.BadParameter(f"{cost_hosts!r} is not a comma-separated list of host counts",
                                     param_hint="--cost-hosts") from None
    results = [engine.run(prof, name) for name in prof.policies]
    points = cost.sweep(prof, sizes)
    written = report.write(prof, results, points, Path(out or f"sched-report/{prof.name}.md"))
    rows = []
    for s in (metrics.summarize(r) for r in results):
        rows.append([s.policy, s.placed, s.rejected, round(s.fleet.max_over_mean, 2), round(s.burst.max_over_mean, 2),
                     round(s.herding, 3), s.conflicts, s.retries, round(s.mean_evaluations), round(s.mean_cpu_us)])
    click.echo(output.render_many(_COLUMNS, rows, fmt))
    click.echo(f"report: {written.markdown}", err=True)
