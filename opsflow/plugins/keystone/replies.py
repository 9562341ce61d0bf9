"""Small WSGI helpers: capped body reads and error bodies that name the reason.

Keystone answers every TOTP mistake with the same generic 401; these bodies keep Keystone's
``{"error": {code, title, message}}`` shape, so clients that parse it keep working, and add
``reason`` (a stable :class:`Reason` value a script can test) and, where useful, what to do.
"""

from __future__ import annotations

import enum
import io
import json
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["App", "BodyTooLarge", "Reason", "StartResponse", "deny", "read_body", "replace_body"]

StartResponse = Callable[..., Any]
#: A WSGI application.
App = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 413: "Request Entity Too Large",
           429: "Too Many Requests", 503: "Service Unavailable"}


class Reason(enum.Enum):
    """Why opsflow refused a request."""

    PASSCODE_REQUIRED = "totp_required"
    ENROLLMENT_REQUIRED = "totp_enrollment_required"
    PASSCODE_INVALID = "totp_passcode_invalid"
    PASSCODE_REPLAYED = "totp_passcode_replayed"
    RECOVERY_CODE_INVALID = "totp_recovery_code_invalid"
    LOCKED_OUT = "totp_locked_out"
    BODY_TOO_LARGE = "body_too_large"
    STORE_UNAVAILABLE = "replay_store_unavailable"
    KEY_UNKNOWN = "access_key_unknown"
    KEY_EXPIRED = "access_key_expired"
    KEY_REVOKED = "access_key_revoked"
    KEY_NO_EXPIRY = "access_key_without_expiry"
    SIGNATURE_MISMATCH = "signature_mismatch"
    SIGNATURE_REPLAYED = "signature_replayed"
    REQUEST_TIME_SKEWED = "request_time_skewed"
    MALFORMED = "malformed_request"
    SECRET_WRITE_ONLY = "secret_write_only"
    EXPIRY_NOT_ALLOWED = "access_key_expiry_not_allowed"


class BodyTooLarge(Exception):
    """The request body is larger than the middleware reads."""


def read_body(environ: dict[str, Any], cap: int) -> bytes:
    """Read at most ``cap`` bytes of the request body and hand the app a fresh stream of them."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > cap:
        raise BodyTooLarge(f"request body of {length} bytes is larger than {cap}")
    stream = environ.get("wsgi.input")
    body = stream.read(length) if stream is not None and length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def replace_body(environ: dict[str, Any], body: bytes) -> None:
    """Hand the app ``body`` instead of the one the client sent."""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))


def deny(start_response: StartResponse, code: int, reason: Reason, message: str,
         headers: Iterable[tuple[str, str]] = (), **extra: Any) -> list[bytes]:
    """A JSON error response naming ``reason``."""
    body = json.dumps({"error": {"code": code, "title": _TITLES.get(code, "Error"), "message": message,
                                 "reason": reason.value, **extra}}).encode()
    start_response(f"{code} {_TITLES.get(code, 'Error')}",
                   [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *headers])
    return [body]
