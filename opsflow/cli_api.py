"""``opsflow api``: serve the service API and dashboard, or write the paste file that configures it.

Registered by :func:`opsflow.cli._register_optional_commands`; the service lives in :mod:`opsflow.api`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Any

import click

from opsflow import output

__all__ = ["COMMANDS"]


@click.group("api")
def api() -> None:
    """The HTTP API and dashboard (Keystone tokens, oslo.policy, jobs on the ZooKeeper jobboard)."""


@api.command("serve")
@click.option("--paste", "paste_file", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The paste file (`opsflow api config` writes one).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=9470, show_default=True,
              help="Port to listen on (0: any free one).")
def serve(paste_file: str, host: str, port: int) -> None:
    """Serve the pipeline ``main`` of PASTE until interrupted."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from opsflow.api import server  # webob, routes, paste: the api extra

    logging.getLogger("opsflow.api").setLevel(logging.INFO)  # the access log, whatever opsflow -v says

    app = server.load(paste_file)
    server.serve(app, host, port, ready=lambda s: click.echo(f"opsflow api serving on http://{host}:{s.server_port}",
                                                             err=True))


@api.command("config")
@click.option("--zookeeper", required=True, metavar="HOSTS[/ROOT]", help="The jobboard's ZooKeeper.")
@click.option("--auth-url", required=True, help="Keystone, e.g. http://keystone:5000/v3.")
@click.option("--username", default="opsflow", show_default=True, help="The service user auth_token validates with.")
@click.option("--password", required=True, help="Its password.")
@click.option("--project", "project_name", default="service", show_default=True, help="Its project.")
@click.option("--policy-file", default="", help="A YAML policy file overriding the defaults.")
@click.option("--access-key-memcache", default="", metavar="HOST:PORT",
              help="memcached of the access-key filter; without it the filter is left out.")
def config(zookeeper: str, auth_url: str, username: str, password: str, project_name: str, policy_file: str,
           access_key_memcache: str) -> None:
    """Print a paste file for `opsflow api serve --paste`."""
    from opsflow.api import pipeline

    click.echo(pipeline.paste_ini(pipeline.PasteSettings(
        zookeeper=zookeeper, auth_url=auth_url, username=username, password=password, project_name=project_name,
        policy_file=policy_file, access_key_memcache=access_key_memcache)), nl=False)


# -- opsflow jobs list|show --api ------------------------------------------------------------------

#: The columns of ``opsflow jobs list``, and the API's field for each.
_LIST_FIELDS = {"id": "id", "name": "name", "state": "state", "tasks done": None, "claimed by": "claimed_by",
                "due": "due", "submitted": "submitted", "parent": "parent_id"}


def _value(job: dict[str, Any], column: str, field: str | None) -> Any:
    return f"{job['tasks_done']}/{job['tasks_total']}" if field is None else job.get(field)


def remote_list(api: str, fmt: str, columns: Sequence[str]) -> None:
    """``opsflow jobs list --api``: the same columns as from ZooKeeper."""
    from opsflow.api.remote import Remote

    with Remote(api) as remote:
        rows = [[_value(job, c, f) for c, f in _LIST_FIELDS.items()] for job in remote.jobs()]
    click.echo(output.render_many(list(_LIST_FIELDS), rows, fmt, columns))


def remote_show(api: str, job_id: str, fmt: str, columns: Sequence[str]) -> None:
    """``opsflow jobs show --api``: the job's fields, then its tasks."""
    from opsflow.api.remote import Remote

    with Remote(api) as remote:
        job = remote.job(job_id)
    fields = {c: _value(job, c, f) for c, f in _LIST_FIELDS.items()}
    fields["run state"], fields["project"] = job["run_state"], job["project_id"]
    tasks = [[t["path"], t["state"], t["duration"], t["error"]] for t in job["tasks"]]
    if fmt == "json":
        fields["tasks"] = [dict(zip(["path", "state", "duration", "error"], row)) for row in tasks]
        click.echo(output.render_one(fields, fmt, columns))
        return
    click.echo(output.render_one(fields, fmt, columns))
    click.echo(output.render_many(["task", "state", "seconds", "error"], tasks, fmt))


#: What :func:`opsflow.cli._register_optional_commands` adds to ``opsflow``.
COMMANDS = (api,)
