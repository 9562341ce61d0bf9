"""``/v1/flows``: the built-in definitions, their graphs, and validating an uploaded document.

An uploaded document goes through the same bounded loader as a local file (size, depth, alias
expansion, scalar length, task count: ``opsflow/flows/yamldoc.py``). Its ``flow:`` references
may name built-in definitions only: an upload must never make the server read its own files.
"""

from __future__ import annotations

import functools
import os
import re
from typing import Any

import webob

from opsflow.api import graph
from opsflow.api.app import Route, json_body
from opsflow.api.context import Context
from opsflow.api.faults import ApiError
from opsflow.api.services import Services
from opsflow.errors import DefinitionError
from opsflow.flows import loader, resolver, yamldoc
from opsflow.flows.model import FlowDefinition

__all__ = ["BuiltinOnly", "builtin", "builtin_names", "load_upload", "routes"]

#: What an uploaded document is called in its error messages.
UPLOAD_SOURCE = "<upload>"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class BuiltinOnly:
    """Resolve ``flow:`` references among the built-in definitions only."""

    def __call__(self, reference: str, parent_source: str) -> tuple[str, str]:
        """The built-in ``reference`` (a bare name); KeyError for anything else."""
        name = reference.removesuffix(".yaml")
        if not _NAME.match(name) or name not in builtin_names():
            raise KeyError(reference)
        path = os.path.join(resolver.BUILTIN_DIR, name + ".yaml")
        return path, yamldoc.read_text(path)


@functools.lru_cache(maxsize=1)
def builtin_names() -> tuple[str, ...]:
    """Names of the built-in definitions."""
    return tuple(sorted(f.removesuffix(".yaml") for f in os.listdir(resolver.BUILTIN_DIR) if f.endswith(".yaml")))


@functools.lru_cache(maxsize=64)
def builtin(name: str) -> FlowDefinition:
    """A built-in definition by name; 404 naming the known ones."""
    if name not in builtin_names():
        raise ApiError(404, f"no built-in flow {name!r}; known: {', '.join(builtin_names())}")
    return loader.load_file(os.path.join(resolver.BUILTIN_DIR, name + ".yaml"))


def load_upload(text: Any) -> FlowDefinition:
    """An uploaded definition, loaded with the file loader's bounds; 400 if it is not text."""
    if not isinstance(text, str):
        raise ApiError(400, "give the definition's YAML text as the string field 'definition'")
    return loader.load_text(text, UPLOAD_SOURCE, BuiltinOnly())


def summary(definition: FlowDefinition) -> dict[str, Any]:
    """What a listing shows of a definition."""
    return {"name": definition.name, "description": definition.description,
            "on_failure": definition.on_failure.value, "tasks": len(definition.tasks),
            "inputs": [{"name": i.name, "type": i.type, "description": i.description, "required": i.required,
                        **({} if i.required else {"default": i.default})} for i in definition.inputs]}


def _list(request: webob.Request, context: Context) -> dict[str, Any]:
    context.check("opsflow:flows:read")
    return {"flows": [summary(builtin(name)) for name in builtin_names()]}


def _show(request: webob.Request, context: Context, name: str) -> dict[str, Any]:
    context.check("opsflow:flows:read")
    definition = builtin(name)
    return {"flow": {**summary(definition), "text": definition.text,
                     "task_names": [t.name for t in definition.tasks]}}


def _graph(request: webob.Request, context: Context, name: str) -> Any:
    context.check("opsflow:flows:read")
    return graph_reply(request, builtin(name))


def graph_reply(request: webob.Request, definition: FlowDefinition, tasks: Any = ()) -> Any:
    """The graph as SVG (``?format=svg``) or JSON (the default)."""
    fmt = request.GET.get("format", "json")
    if fmt == "svg":
        return webob.Response(content_type="image/svg+xml", charset="utf-8",
                              body=graph.to_svg(definition, tasks).encode())
    if fmt != "json":
        raise ApiError(400, f"unknown graph format {fmt!r}; use json or svg")
    return graph.to_json(definition, tasks)


def _validate(request: webob.Request, context: Context) -> Any:
    context.check("opsflow:flows:validate")
    body = json_body(request)
    if not isinstance(body, dict) or "definition" not in body:
        raise ApiError(400, "send {\"definition\": \"<the flow's YAML text>\"}")
    try:
        definition = load_upload(body["definition"])
    except DefinitionError as exc:
        return {"valid": False, "error": {"message": str(exc), "line": exc.line, "column": exc.column,
                                          "reason": exc.reason}}
    return {"valid": True, "flow": summary(definition)}


def routes(services: Services) -> list[Route]:
    """The flow routes."""
    return [
        Route("flows_list", "/v1/flows", ["GET"], _list),
        Route("flows_validate", "/v1/flows/validate", ["POST"], _validate),
        Route("flows_show", "/v1/flows/{name}", ["GET"], _show),
        Route("flows_graph", "/v1/flows/{name}/graph", ["GET"], _graph),
    ]
