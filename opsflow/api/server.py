"""Serving the API: the paste factory, the pipeline's ini file, and a threaded WSGI server.

The pipeline, as in every OpenStack API::

    cookie_token  -> [opsflow_keys] -> authtoken -> opsflow
    (dashboard)      (access keys)     (Keystone)   (this app)

``cookie_token`` turns the dashboard's cookie into ``X-Auth-Token``; ``opsflow_keys`` (optional)
turns AWS SigV4 requests signed with an opsflow access key into a Keystone token
(:mod:`opsflow.plugins.keystone.sigv4`); keystonemiddleware's ``auth_token`` validates the token
against Keystone, with ``delay_auth_decision`` so discovery and the sign-in page need none.

The server is the standard library's, with a thread per request: the API is an operator's tool
in front of ZooKeeper, not a high-traffic service (``benchmarks/api.py`` measures it); any WSGI
server (gunicorn, uwsgi, mod_wsgi) can load the same paste file instead.
"""

from __future__ import annotations

import logging
import socketserver
import wsgiref.simple_server
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from opsflow.api.app import Application
from opsflow.api.services import Services
from opsflow.engines.jobboard import Address

__all__ = ["app_factory", "load", "serve"]

LOG = logging.getLogger(__name__)


def app_factory(global_conf: Mapping[str, str], **local_conf: str) -> Application:
    """Paste entry: ``paste.app_factory = opsflow.api.server:app_factory`` with ``zookeeper``,
    ``auth_url`` (for the dashboard's sign-in) and an optional ``policy_file``."""
    conf = {**global_conf, **local_conf}
    address = Address.parse(conf["zookeeper"])
    services = Services.open(address, policy_file=conf.get("policy_file") or None, auth_url=conf.get("auth_url", ""))
    return Application(services)


def load(paste_file: str) -> Callable[..., Iterable[bytes]]:
    """The pipeline ``main`` of a paste file."""
    from paste import deploy

    return deploy.loadapp(f"config:{paste_file}")  # type: ignore[no-any-return]


class _Server(socketserver.ThreadingMixIn, wsgiref.simple_server.WSGIServer):
    daemon_threads = True
    request_queue_size = 64


class _Handler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the stdlib's name)
        LOG.info("%s %s", self.address_string(), format % args)


def serve(app: Callable[..., Iterable[bytes]], host: str, port: int,
          ready: Callable[[wsgiref.simple_server.WSGIServer], None] | None = None) -> None:
    """Serve ``app`` until interrupted (``ready`` is called with the listening server)."""
    server = wsgiref.simple_server.make_server(host, port, app, server_class=_Server, handler_class=_Handler)
    LOG.info("opsflow api listening on http://%s:%s", host, server.server_port)
    if ready is not None:
        ready(server)
    try:
        server.serve_forever()
    finally:
        server.server_close()
