"""HTTP errors as JSON bodies that name the problem, and the one mapping from opsflow's errors.

Every error the API returns is ``{"error": {"status": 404, "title": "Not Found", "message":
"..."}}``: the message is the sentence opsflow's own exception carries (what failed and how to fix
it), so the API, the CLI and the dashboard say the same thing. :func:`from_error` is the boundary
where opsflow's exception tree meets HTTP status codes; nothing else picks a status for them.
"""

from __future__ import annotations

import json
from typing import Any

import webob

from opsflow import errors

__all__ = ["ApiError", "from_error", "response"]


class ApiError(Exception):
    """An HTTP error with a message for the client."""

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.message = message
        self.headers = headers or {}
        super().__init__(message)


#: opsflow's errors that are the client's doing, by the status they get; anything else is ours (5xx).
_CLIENT = (
    (errors.FlowNotFound, 404),
    (errors.InvalidState, 409),
    (errors.ClaimConflict, 409),
    (errors.DefinitionError, 422),
    (errors.ExpressionError, 422),
    (errors.InvalidInput, 422),
    (errors.PluginNotFound, 422),
    (errors.ConfigError, 400),
)


def from_error(exc: errors.OpsflowError) -> ApiError:
    """The HTTP error an opsflow exception stands for."""
    for kind, status in _CLIENT:
        if isinstance(exc, kind):
            return ApiError(status, str(exc))
    if isinstance(exc, errors.BackendUnavailable):
        return ApiError(503, str(exc), headers={"Retry-After": "5"})
    return ApiError(500, f"{exc.__class__.__name__}: {exc}")


def response(status: int, message: str, headers: dict[str, str] | None = None) -> webob.Response:
    """The JSON error response."""
    body: dict[str, Any] = {"error": {"status": status, "title": webob.Response(status=status).status.split(" ", 1)[1],
                                      "message": message}}
    reply = webob.Response(status=status, content_type="application/json", charset="utf-8",
                           body=json.dumps(body).encode())
    for name, value in (headers or {}).items():
        reply.headers[name] = value
    return reply
