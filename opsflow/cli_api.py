"""``opsflow api``: serve the service API and dashboard, or write the paste file that configures it.

Registered by :func:`opsflow.cli._register_optional_commands`; the service lives in :mod:`opsflow.api`.
"""

from __future__ import annotations

import logging
import sys

import click

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
    from opsflow.identity.service_user import ServiceUser

    click.echo(pipeline.paste_ini(pipeline.PasteSettings(
        zookeeper=zookeeper, service=ServiceUser(auth_url, username, password, project_name),
        policy_file=policy_file, access_key_memcache=access_key_memcache)), nl=False)


#: What :func:`opsflow.cli._register_optional_commands` adds to ``opsflow``.
COMMANDS = (api,)
