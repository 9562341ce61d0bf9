"""AWS Signature V4 for any OpenStack API: a paste filter placed before ``authtoken``.

A request signed by a standard signer (botocore's ``SigV4Auth``) with an opsflow access key is
checked here before anything else sees it — known key, active, not expired, timestamp within
``max_skew_seconds`` either way (Keystone's ec2tokens accepts 30 days ahead), signature right
(recomputed locally, compared in constant time), never seen before (the signature is marked in
memcached) — then exchanged for a Keystone token of the key's owner and project through
``POST /v3/ec2tokens``, and handed on to ``authtoken`` as ``X-Auth-Token``. Requests without an
``AWS4-HMAC-SHA256`` Authorization header pass untouched.
"""

from __future__ import annotations

import calendar
import dataclasses
import hashlib
import hmac
import logging
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from opsflow.plugins.keystone import replies
from opsflow.plugins.keystone.access_keys import KeyGate, KeyRefused
from opsflow.plugins.keystone.replies import Reason
from opsflow.plugins.keystone.store import StoreUnavailable

__all__ = ["SigV4Filter", "SignedRequest", "filter_factory", "parse", "signature"]

LOG = logging.getLogger(__name__)
ALGORITHM = "AWS4-HMAC-SHA256"


@dataclasses.dataclass(frozen=True)
class SignedRequest:
    """The parts of a SigV4 request the signature covers."""

    access: str
    #: ``YYYYMMDD/region/service/aws4_request``.
    scope: str
    signed_headers: tuple[str, ...]
    signature: str
    #: ``X-Amz-Date``, ``YYYYMMDDTHHMMSSZ``.
    amz_date: str
    method: str
    path: str
    query: str
    #: Lower-case header name to value, for the signed headers.
    headers: Mapping[str, str]
    payload_hash: str

    @property
    def timestamp(self) -> float:
        """``amz_date`` as epoch seconds."""
        return float(calendar.timegm(time.strptime(self.amz_date, "%Y%m%dT%H%M%SZ")))


def _headers(environ: Mapping[str, Any]) -> dict[str, str]:
    out = {k[5:].replace("_", "-").lower(): str(v) for k, v in environ.items() if k.startswith("HTTP_")}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            out[key.replace("_", "-").lower()] = str(environ[key])
    return out


def parse(environ: Mapping[str, Any], body: bytes) -> SignedRequest | None:
    """The SigV4 parts of a WSGI request, None when it is not SigV4-signed; ValueError if malformed."""
    auth = str(environ.get("HTTP_AUTHORIZATION", ""))
    if not auth.startswith(ALGORITHM + " "):
        return None
    fields = dict(part.strip().split("=", 1) for part in auth[len(ALGORITHM):].split(",") if "=" in part)
    access, _, scope = fields["Credential"].partition("/")
    headers = _headers(environ)
    signed = tuple(fields["SignedHeaders"].split(";"))
    return SignedRequest(access=access, scope=scope, signed_headers=signed, signature=fields["Signature"],
                         amz_date=headers["x-amz-date"], method=str(environ["REQUEST_METHOD"]),
                         path=str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", "")),
                         query=str(environ.get("QUERY_STRING", "")),
                         headers={h: headers.get(h, "") for h in signed},
                         payload_hash=headers.get("x-amz-content-sha256") or hashlib.sha256(body).hexdigest())


def _canonical_query(query: str) -> str:
    pairs = sorted(urllib.parse.parse_qsl(query, keep_blank_values=True))
    return "&".join(f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}" for k, v in pairs)


def signature(req: SignedRequest, secret: str) -> str:
    """The signature ``req`` should carry when signed with ``secret``."""
    canonical = "\n".join([
        req.method, urllib.parse.quote(req.path, safe="/~"), _canonical_query(req.query),
        "".join(f"{h}:{' '.join(req.headers[h].split())}\n" for h in req.signed_headers),
        ";".join(req.signed_headers), req.payload_hash])
    to_sign = "\n".join([ALGORITHM, req.amz_date, req.scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in req.scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


class SigV4Filter:
    """Checks SigV4 requests and swaps their signature for a Keystone token."""

    def __init__(self, app: replies.App, gate: KeyGate) -> None:
        self.app = app
        self.gate = gate

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not str(environ.get("HTTP_AUTHORIZATION", "")).startswith(ALGORITHM):
            return self.app(environ, start_response)
        try:
            body = replies.read_body(environ, self.gate.options.max_body_bytes)
            req = parse(environ, body)
            assert req is not None
            signed_at = req.timestamp
        except replies.BodyTooLarge as exc:
            return replies.deny(start_response, 413, Reason.BODY_TOO_LARGE, str(exc))
        except (KeyError, ValueError, AssertionError):
            return replies.deny(start_response, 400, Reason.MALFORMED,
                                "malformed AWS4-HMAC-SHA256 Authorization header, or X-Amz-Date missing or "
                                "not YYYYMMDDTHHMMSSZ")
        try:
            self.gate.admit(req.access, signed_at, req.signature,
                            lambda secret: hmac.compare_digest(signature(req, secret).encode(),
                                                               req.signature.encode()),
                            str(environ.get("REMOTE_ADDR", "")))
            token = self.gate.lookup.token(req.access, _ec2_credentials(req, environ))
            if token is None:
                raise KeyRefused(401, Reason.SIGNATURE_MISMATCH, "Keystone refused the signed request (ec2tokens)")
        except KeyRefused as exc:
            LOG.warning("refused a SigV4 request with access key %s: %s", req.access, exc.reason.value)
            return replies.deny(start_response, exc.code, exc.reason, exc.message)
        except StoreUnavailable as exc:
            LOG.error("refusing a SigV4 request: %s", exc)
            return replies.deny(start_response, 503, Reason.STORE_UNAVAILABLE,
                                "the signature replay store is unreachable; try again shortly")
        environ.pop("HTTP_AUTHORIZATION", None)
        environ["HTTP_X_AUTH_TOKEN"] = token
        return self.app(environ, start_response)


def _ec2_credentials(req: SignedRequest, environ: Mapping[str, Any]) -> dict[str, Any]:
    """The body of ``POST /v3/ec2tokens`` that lets Keystone recompute the same signature."""
    headers = {h.title(): v for h, v in req.headers.items()}
    headers["Authorization"] = str(environ["HTTP_AUTHORIZATION"])
    headers["X-Amz-Date"] = req.amz_date
    return {"access": req.access, "signature": req.signature, "host": req.headers.get("host", ""),
            "verb": req.method, "path": urllib.parse.quote(req.path, safe="/~"),
            "params": dict(urllib.parse.parse_qsl(req.query, keep_blank_values=True)),
            "headers": headers, "body_hash": req.payload_hash}


def filter_factory(global_conf: Mapping[str, str], **local_conf: str) -> Callable[[replies.App], SigV4Filter]:
    """Paste entry: ``paste.filter_factory = opsflow.plugins.keystone.sigv4:filter_factory``."""
    gate = KeyGate.from_paste({**global_conf, **local_conf})
    return lambda app: SigV4Filter(app, gate)
