"""``opsflow hibernate``, ``opsflow restore`` and ``opsflow hibernated``: shortcuts over the built-in
``hibernate.yaml`` / ``restore.yaml`` flows, and the listing of copies read from Swift.

Several servers run ``hibernate-batch.yaml`` / ``restore-batch.yaml``: each server is a child run of
its own (``opsflow flows show ID`` for each), as forklift's batch does, and the steps that move disks
hold ``--per-host`` and ``--per-cloud`` (:mod:`opsflow.tasks.slots`). Exit 0 when every server's
run succeeded, 1 otherwise.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import click

from opsflow import cli_options, clouds, output
from opsflow.engines.atoms import FailurePoint
from opsflow.engines.records import RunState
from opsflow.engines.runner import Runner
from opsflow.errors import InvalidInput
from opsflow.flows import loader, resolver
from opsflow.hibernate import listing, selection
from opsflow.hibernate.layout import Layout
from opsflow.hibernate.swift import Swift

__all__ = ["COMMANDS"]

_cloud_option = click.option("--cloud", envvar="OS_CLOUD", required=True,
                             help="clouds.yaml name of the cloud (default $OS_CLOUD).")


def _layout_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("--prefix", default="", help="Object-name prefix inside the container.")(func)
    func = click.option("--segment-container", default="", help="Segment container (default CONTAINER_segments).")(func)
    return click.option("--container", default="opsflow-hibernate", show_default=True, help="Swift container.")(func)


def _run_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("--per-cloud", default=4, show_default=True, type=click.IntRange(min=1), help="Disks moving at once in the cloud.")(func)
    func = click.option("--per-host", default=2, show_default=True, type=click.IntRange(min=1),
                        help="Disks moving at once per hypervisor host.")(func)
    func = click.option("--definition", type=click.Path(dir_okay=False), help="Your copy of the batch flow's YAML.")(func)
    func = click.option("--inject-failure", multiple=True, metavar="TASK[:before|after]",
                        help="Make matching tasks fail, e.g. 'hibernate[1].store' (rehearse reverts).")(func)
    func = click.option("--json", "as_json", is_flag=True, help="Print each run's outcome as JSON.")(func)
    return cli_options.state_option()(func)


def _layout(container: str, segment_container: str, prefix: str) -> dict[str, str]:
    _usage(lambda: Layout(container, segment_container, prefix))  # bad names fail here, before any run
    return {"container": container, "segment_container": segment_container, "prefix": prefix}


def _usage(check: Callable[[], Any]) -> Any:
    """``check()``, its bad input turned into a usage error (exit 2)."""
    try:
        return check()
    except InvalidInput as exc:
        raise click.UsageError(str(exc)) from exc


def _points(values: Sequence[str]) -> tuple[FailurePoint, ...]:
    try:
        return tuple(FailurePoint.parse(value) for value in values)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc


def _run_batch(flow: str, definition_path: str | None, inputs: Mapping[str, Any], labels: Mapping[str, str],
               state_url: str, points: tuple[FailurePoint, ...], per_host: int, per_cloud: int, as_json: bool) -> None:
    """Run ``<flow>-batch.yaml`` (one child run per item) and print one row per item."""
    definition = loader.load_file(definition_path or os.path.join(resolver.BUILTIN_DIR, f"{flow}-batch.yaml"))
    limits = {"per_host": per_host, "per_cloud": per_cloud}
    with Runner(state_url) as runner:
        record = _usage(lambda: runner.run(definition, {**inputs, "limits": limits}, failure_points=points))
    results = {task.path: task.result for task in record.tasks}
    rows = [{"name": labels.get(str(entry["item"]), str(entry["item"])), "run": entry["run_id"],
             "state": entry["state"], "error": entry["error"] or ""} for entry in results.get(flow) or []]
    if record.state is not RunState.SUCCEEDED:
        rows.append({"name": "(batch)", "run": record.run_id, "state": record.state.value,
                     "error": "; ".join(f"{t.path}: {t.error}" for t in record.steps if t.error)})
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
    else:
        click.echo(output.render_many(["name", "run", "state", "error"],
                                      [[r["name"], r["run"], r["state"], r["error"]] for r in rows], "table"))
    if record.state is not RunState.SUCCEEDED or any(r["state"] != RunState.SUCCEEDED.value for r in rows):
        sys.exit(1)


@click.command("hibernate")
@click.argument("servers", nargs=-1)
@_cloud_option
@click.option("--project", default="", help="Only servers of this project id.")
@click.option("--host", default="", help="Only servers on this hypervisor host (admin).")
@click.option("--tag", default="", help="Only servers with this tag.")
@click.option("--segment-size", default=64, show_default=True, help="MiB per SLO segment.")
@click.option("--concurrency", default=4, show_default=True, help="Segments uploaded at once per server.")
@_layout_options
@_run_options
def hibernate(servers: Sequence[str], cloud: str, project: str, host: str, tag: str, segment_size: int,
              concurrency: int, container: str, segment_container: str, prefix: str, **run: Any) -> None:
    """Move servers (ids, names or globs) off their hypervisors into Swift; they are deleted once
    their copy is verified."""
    points = _points(run.pop("inject_failure"))
    layout = _layout(container, segment_container, prefix)
    wanted = _usage(lambda: selection.Selection(tuple(servers), project, host, tag))
    with clouds.errors(cloud, "selecting servers"):
        chosen = _usage(lambda: selection.select(clouds.connect(cloud), wanted))
    if not chosen:
        raise click.UsageError("the selection matches no server")
    clashes = selection.duplicate_names(chosen)
    if clashes:
        raise click.UsageError(f"servers share the names {', '.join(clashes)}: their copies would collide; "
                               f"rename them or hibernate them one at a time by id")
    inputs = {"servers": [s.id for s in chosen], "cloud": cloud, "layout": layout, "segment_size": segment_size << 20,
              "concurrency": concurrency}
    _run_batch("hibernate", run.pop("definition"), inputs, {s.id: s.name for s in chosen}, points=points, **run)


@click.command("restore")
@click.argument("names", nargs=-1, required=True)
@_cloud_option
@click.option("--project", default="", help="Owner project id whose Swift account holds the copies "
              "(default: the cloud's own project).")
@click.option("--delete-copy", is_flag=True, help="Delete each Swift copy once its server is restored and verified.")
@click.option("--access", default="", help="Host-access YAML for the on-host disk check (default $OPSFLOW_HOST_ACCESS).")
@_layout_options
@_run_options
def restore(names: Sequence[str], cloud: str, project: str, delete_copy: bool, access: str, container: str,
            segment_container: str, prefix: str, **run: Any) -> None:
    """Boot hibernated servers again from their copies in Swift, in any region that shares it."""
    points = _points(run.pop("inject_failure"))
    layout = _layout(container, segment_container, prefix)
    inputs = {"names": list(names), "cloud": cloud, "project": project, "layout": layout, "delete_copy": delete_copy,
              "access": access}
    _run_batch("restore", run.pop("definition"), inputs, {}, points=points, **run)


@click.group("hibernated")
def hibernated() -> None:
    """Hibernated servers, as their manifests in Swift say."""


def _store(cloud: str, project: str) -> Swift:
    return Swift(clouds.project_connection(cloud, project))


_project_option = click.option("--project", default="", help="Owner project id (default: the cloud's own).")


def _reading_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Where the copies are (cloud, project, layout) and how to print them (``-f``, ``-c``)."""
    func = cli_options.format_options(func)
    return _cloud_option(_project_option(_layout_options(func)))


@hibernated.command("list")
@_reading_options
def hibernated_list(cloud: str, project: str, container: str, segment_container: str, prefix: str, fmt: str,
                    columns: Sequence[str]) -> None:
    """List the hibernated servers of a project."""
    rows = listing.manifests(_store(cloud, project), Layout(container, segment_container, prefix))
    click.echo(output.render_many(list(listing.Row.COLUMNS), [r.values() for r in rows], fmt, columns))


@hibernated.command("show")
@click.argument("name")
@_reading_options
def hibernated_show(name: str, cloud: str, project: str, container: str, segment_container: str, prefix: str,
                    fmt: str, columns: Sequence[str]) -> None:
    """Show one hibernated server's manifest."""
    data = listing.show(_store(cloud, project), Layout(container, segment_container, prefix), name)
    if fmt == "json" and not columns:
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    click.echo(output.render_one(_flat(data), fmt, columns))


def _flat(data: Mapping[str, Any]) -> dict[str, Any]:
    server, disk = data["server"], data["disk"]
    return {"name": data["name"], "state": data["state"], "created": data["created"], "region": data["region"],
            "server": server["id"], "flavor": server["flavor"]["name"], "project": server["project_id"],
            "user": server["user_id"], "host": server["host"], "size": disk["size"], "sha256": disk["sha256"],
            "object": f"{disk['container']}/{disk['object']}", "restores": len(data["restores"])}


@hibernated.command("delete")
@click.argument("names", nargs=-1, required=True)
@_cloud_option
@_project_option
@_layout_options
@click.confirmation_option(prompt="Delete these copies? A hibernated server's copy is all there is of it")
def hibernated_delete(names: Sequence[str], cloud: str, project: str, container: str, segment_container: str,
                      prefix: str) -> None:
    """Delete hibernated copies (disk, segments, manifest) for good."""
    store, layout = _store(cloud, project), Layout(container, segment_container, prefix)
    missing = [name for name in names if not listing.delete(store, layout, name)]
    for name in names:
        click.echo(f"{name}: {'not found' if name in missing else 'deleted'}")
    if missing:
        sys.exit(1)


#: Commands added to ``opsflow``.
COMMANDS = (hibernate, restore, hibernated)
