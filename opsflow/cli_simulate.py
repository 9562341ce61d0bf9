"""``opsflow simulate --profile FILE``: the control-plane ramp-up on the simulated cloud.

A shortcut over the built-in ``simulator-rampup.yaml`` (``--definition`` takes an operator's copy):
the ramp profile fills its inputs, the run is an ordinary run (``opsflow flows show``, ``resume``,
``revert``), and the end prints where the report is and, after a breach, the first bottleneck.
A breach is what the ramp looks for, so it exits 0; a failed run exits 1.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

import click

from opsflow import cli_options
from opsflow.devcloud import clouds as devcloud_clouds
from opsflow.engines.records import RunRecord
from opsflow.engines.runner import Runner
from opsflow.flows import loader, resolver
from opsflow.simulate import profile as ramp_profile

__all__ = ["simulate"]


def _report(record: RunRecord) -> dict[str, Any]:
    return next((t.result for t in record.steps if t.path == "report" and isinstance(t.result, dict)), {})


@click.command("simulate")
@click.option("--profile", "profile_file", required=True, type=click.Path(dir_okay=False),
              help="The ramp profile (YAML): steps, load, SLO (README, \"Ramp-up\").")
@click.option("--report-dir", default="rampup-report", show_default=True, type=click.Path(file_okay=False),
              help="Where the step records, the report and its plots go.")
@click.option("--definition", type=click.Path(dir_okay=False), help="Your copy of simulator-rampup.yaml.")
@click.option("--inject-failure", multiple=True, metavar="TASK[:before|after]",
              help="Make matching tasks fail, to rehearse reverts (e.g. 'step[1].measure').")
@click.option("--json", "as_json", is_flag=True, help="Print the final record as JSON.")
@cli_options.state_option()
def simulate(profile_file: str, report_dir: str, definition: str | None, inject_failure: Sequence[str],
             as_json: bool, state_url: str) -> None:
    """Grow the simulated cloud in steps under load until the SLO breaks; report the first bottleneck."""
    from opsflow import cli  # run, progress and exit codes as `opsflow run` has them

    ramp = ramp_profile.load_file(profile_file)
    flow = loader.load_file(definition or os.path.join(resolver.BUILTIN_DIR, "simulator-rampup.yaml"))
    values = {"cloud": ramp.cloud or devcloud_clouds.cloud_names(ramp.region)[1], "profile": ramp.to_json(),
              "steps": [dataclasses.asdict(step) for step in ramp.steps], "report_dir": os.path.abspath(report_dir)}
    points = cli.failure_points(inject_failure)
    ended: list[RunRecord] = []

    def run(runner: Runner) -> RunRecord:
        ended.append(runner.run(flow, values, failure_points=points))
        return ended[-1]

    cli.drive(state_url, as_json, run)  # exits unless the run succeeded
    said = _report(ended[-1])
    if said and not as_json:
        click.echo(f"report: {said['path']}")
        if said["breached"]:
            click.echo(f"SLO breached; first bottleneck: {said['bottleneck']}")
        else:
            click.echo(f"all {said['steps']} steps held the SLO")
