"""The WSGI application: a ``routes`` mapper over webob requests, and JSON in and out.

Why webob + routes: they are what Nova, Neutron, Glance and Swift are built on, already in every
OpenStack deployment's packages, and together a few hundred lines of well-understood code; the
keystonemiddleware/oslo.policy/paste stack plugs in around them exactly as it does for those
services. A larger framework (Flask, as Keystone uses, or Pecan) would bring its own request
model and plugin system for what is here a dozen routes.

Each resource is one module with a ``routes(services)`` function returning :class:`Route` rows;
:data:`RESOURCES` lists the modules. A new resource (reclaim candidates and their keep button)
is one more module and one more word there, plus its paths in :mod:`.openapi`.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeAlias

import routes
import webob

from opsflow.api import faults
from opsflow.api.context import Context
from opsflow.api.services import Services
from opsflow.errors import OpsflowError

__all__ = ["RESOURCES", "Application", "Reply", "Route", "json_body", "query_flag"]

LOG = logging.getLogger(__name__)

#: What a handler returns: a ready response, or a JSON-able value (200) or (status, value).
Reply: TypeAlias = "webob.Response | Mapping[str, Any] | tuple[int, Any]"
Handler = Callable[..., Reply]


@dataclasses.dataclass(frozen=True)
class Route:
    """One URL pattern, its methods and handler (called as ``handler(request, context, **matched)``)."""

    #: Unique name (also the OpenAPI ``operationId``).
    name: str
    #: ``routes`` pattern, e.g. ``/v1/jobs/{job_id}``.
    path: str
    methods: Sequence[str]
    handler: Handler


#: Bytes a JSON request body may have (an uploaded definition's own limit is checked after).
MAX_BODY = 2 << 20


def json_body(request: webob.Request) -> Any:
    """The request's JSON body; 400/413/415 naming what is wrong."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise faults.ApiError(413, f"the request body has {request.content_length} bytes; at most {MAX_BODY} are accepted")
    raw = request.body_file.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise faults.ApiError(413, f"the request body is larger than {MAX_BODY} bytes")
    if not raw:
        return {}
    if request.content_type not in ("application/json", ""):
        raise faults.ApiError(415, f"send the body as application/json, not {request.content_type}")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise faults.ApiError(400, f"the request body is not valid JSON: {exc}") from None


def query_flag(request: webob.Request, name: str) -> bool:
    """A true/false query parameter (absent: false); 400 for anything else."""
    text = request.GET.get(name, "false").lower()
    if text not in ("true", "false", "1", "0", "yes", "no"):
        raise faults.ApiError(400, f"{name} must be true or false, not {text!r}")
    return text in ("true", "1", "yes")


#: The resource modules, each with ``routes(services) -> list[Route]``.
RESOURCES = ("versions", "flows", "jobs", "forklift", "reclaim", "dashboard")


def _module_routes(services: Services) -> list[Route]:
    found: list[Route] = []
    for name in RESOURCES:
        module = importlib.import_module(f"opsflow.api.{name}")
        found.extend(module.routes(services))
    return found


class Application:
    """Dispatch to the resources' handlers; turn every failure into a JSON error."""

    def __init__(self, services: Services, extra: Iterable[Route] = ()) -> None:
        self.services = services
        self.routes = [*_module_routes(services), *extra]
        self._mapper = routes.Mapper()
        self._paths = routes.Mapper()
        for route in self.routes:
            self._mapper.connect(route.name, route.path, _handler=route.handler,
                                 conditions={"method": list(route.methods)})
            self._paths.connect(route.name, route.path)
        #: Methods by path pattern, for 405's Allow header.
        self._methods: dict[str, list[str]] = {}
        for route in self.routes:
            self._methods.setdefault(route.path, []).extend(route.methods)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = webob.Request(environ)
        try:
            response = self._dispatch(request)
        except faults.ApiError as exc:
            response = faults.response(exc.status, exc.message, exc.headers)
        except OpsflowError as exc:
            err = faults.from_error(exc)
            if err.status >= 500:
                LOG.warning("%s %s failed: %s", request.method, request.path, exc)
            response = faults.response(err.status, err.message, err.headers)
        except Exception:
            LOG.exception("%s %s failed", request.method, request.path)
            response = faults.response(500, "the server failed to answer this request; its log has the details")
        return response(environ, start_response)  # type: ignore[no-any-return]

    def _dispatch(self, request: webob.Request) -> webob.Response:
        matched = self._mapper.match(environ=request.environ)
        if matched is None:
            route = self._paths.routematch(request.path_info)
            if route is not None:
                allowed = sorted(set(self._methods[route[1].routepath]))
                raise faults.ApiError(405, f"{request.method} is not allowed on {request.path_info}; "
                                           f"use {', '.join(allowed)}", headers={"Allow": ", ".join(allowed)})
            raise faults.ApiError(404, f"no resource at {request.path_info}; GET / lists the API versions, "
                                       f"/v1/openapi.json describes every route")
        args = {k: v for k, v in matched.items() if k not in ("_handler", "controller", "action")}
        context = Context.from_environ(request.environ, self.services.enforcer)
        reply = matched["_handler"](request, context, **args)
        return _response(reply)


def _response(reply: Reply) -> webob.Response:
    if isinstance(reply, webob.Response):
        return reply
    status, value = reply if isinstance(reply, tuple) else (200, reply)
    return webob.Response(status=status, content_type="application/json", charset="utf-8",
                          body=json.dumps(value, default=str).encode())
