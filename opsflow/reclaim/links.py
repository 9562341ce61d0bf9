"""Signed, one-time, expiring keep links, and the small WSGI endpoint that serves them.

A link carries a token: the payload (server, run, action, days, expiry, nonce) in base64url, a dot,
and an HMAC-SHA256 of that payload under the policy's key. The endpoint refuses with 403 and a
sentence a forged token (signature mismatch), an expired one, and one used before (its nonce is
recorded in the audit store the first time, and a nonce can be recorded once). GET shows what the
link does and a button; only POST keeps, so a mail scanner prefetching links keeps nothing.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import html
import json
import logging
import os
import secrets
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

from opsflow.errors import ConfigError, InvalidInput

__all__ = ["KEY_ENV", "Link", "LinkRefused", "application", "key_of", "sign", "verify"]

LOG = logging.getLogger(__name__)

#: Environment variable holding the HMAC key when the policy has none.
KEY_ENV = "OPSFLOW_RECLAIM_LINK_KEY"


class LinkRefused(InvalidInput):
    """A keep link that is forged, expired or used; the message says which."""


@dataclasses.dataclass(frozen=True)
class Link:
    """What a keep link asks for."""

    server: str
    run_id: str
    #: ``keep``.
    action: str
    #: Days the keep lasts.
    days: float
    #: Epoch seconds after which the link is refused.
    expires: float
    nonce: str


def key_of(policy_key: str) -> bytes:
    """The HMAC key: the policy's, else ``$OPSFLOW_RECLAIM_LINK_KEY``."""
    key = policy_key or os.environ.get(KEY_ENV, "")
    if len(key) < 16:
        raise ConfigError(f"keep links need a key of at least 16 characters: set links.key in the policy or "
                          f"${KEY_ENV}")
    return key.encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def sign(key: bytes, link: Link) -> str:
    """The token of ``link``."""
    payload = _b64(json.dumps(dataclasses.asdict(link), sort_keys=True).encode())
    return payload + "." + hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def new_link(key: bytes, server: str, run_id: str, days: float, expires: float) -> str:
    """A fresh token (a new nonce) keeping ``server`` for ``days``."""
    return sign(key, Link(server, run_id, "keep", days, expires, secrets.token_hex(16)))


def verify(key: bytes, token: str, now: float) -> Link:
    """The link a token stands for; LinkRefused when forged or expired (a used nonce is the store's to tell)."""
    payload, _, signature = token.partition(".")
    expected = hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()
    if not signature or not hmac.compare_digest(expected, signature):
        raise LinkRefused("this keep link is not valid: its signature does not match (it was altered or forged)")
    try:
        link = Link(**json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))
    except (ValueError, TypeError) as exc:
        raise LinkRefused("this keep link is not valid: its content cannot be read") from exc
    if now > link.expires:
        raise LinkRefused("this keep link has expired; ask an operator to run `opsflow reclaim keep "
                          f"{link.server}`")
    return link


#: What the endpoint calls to keep: (link) -> a sentence for the owner. Raises LinkRefused to refuse.
Keeper = Callable[[Link], str]


def application(key: bytes, keeper: Keeper, clock: Callable[[], float]) -> Callable[..., Iterable[bytes]]:
    """The WSGI app: ``GET /keep?t=TOKEN`` shows a form, ``POST /keep`` (``t=TOKEN``) keeps."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def reply(status: str, text: str) -> Iterable[bytes]:
            body = text.encode()
            start_response(status, [("Content-Type", "text/html; charset=utf-8"),
                                    ("Content-Length", str(len(body)))])
            return [body]

        if environ.get("PATH_INFO", "") != "/keep":
            return reply("404 Not Found", "<p>Nothing here; keep links end in /keep?t=...</p>")
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "POST":
            size = min(int(environ.get("CONTENT_LENGTH") or 0), 8192)
            fields = urllib.parse.parse_qs(environ["wsgi.input"].read(size).decode(errors="replace"))
        else:
            fields = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        token = (fields.get("t") or [""])[0]
        try:
            link = verify(key, token, clock())
            if method != "POST":
                return reply("200 OK", f"<form method='post' action='/keep'><p>Keep server {html.escape(link.server)} "
                             f"for {link.days:g} days?</p><input type='hidden' name='t' value='{html.escape(token)}'>"
                             "<button type='submit'>Keep it</button></form>")
            done = keeper(link)
        except LinkRefused as exc:
            LOG.info("keep link refused: %s", exc)
            return reply("403 Forbidden", f"<p>{html.escape(str(exc))}</p>")
        return reply("200 OK", f"<p>{html.escape(done)}</p>")

    return app
