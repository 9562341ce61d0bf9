"""``/``: the version document (as every OpenStack API has), ``/v1``, and ``/v1/openapi.json``."""

from __future__ import annotations

from typing import Any

import webob

from opsflow.api import openapi
from opsflow.api.app import Route
from opsflow.api.context import Context
from opsflow.api.services import Services

__all__ = ["routes"]

VERSION = {"id": "v1.0", "status": "CURRENT", "updated": "2026-12-01T00:00:00Z"}


def _version(request: webob.Request) -> dict[str, Any]:
    base = request.host_url + request.script_name
    return {**VERSION, "links": [{"rel": "self", "href": f"{base}/v1/"},
                                 {"rel": "describedby", "href": f"{base}/v1/openapi.json"}],
            "media-types": [{"base": "application/json", "type": "application/vnd.opsflow+json;version=1"}]}


def routes(services: Services) -> list[Route]:
    """The unauthenticated discovery routes."""

    def versions(request: webob.Request, context: Context) -> Any:
        return 300, {"versions": [_version(request)]}

    def v1(request: webob.Request, context: Context) -> Any:
        return {"version": _version(request)}

    def describe(request: webob.Request, context: Context) -> Any:
        return openapi.document(request.host_url + request.script_name)

    return [Route("versions", "/", ["GET"], versions), Route("version_v1", "/v1", ["GET"], v1),
            Route("version_v1_slash", "/v1/", ["GET"], v1),
            Route("openapi", "/v1/openapi.json", ["GET"], describe)]
