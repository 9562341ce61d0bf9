"""SigV4 signatures as botocore makes them, and when an access key may be used."""

from __future__ import annotations

import io

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from opsflow.plugins.keystone import sigv4
from opsflow.plugins.keystone.access_keys import AccessKey, KeyStatus, refusal
from opsflow.plugins.keystone.options import KeyOptions
from opsflow.plugins.keystone.replies import Reason


def _signed(body: bytes = b"", query: str = "") -> tuple[dict[str, object], bytes]:
    url = "http://127.0.0.1:19311/v2.1/servers/detail" + (f"?{query}" if query else "")
    req = AWSRequest(method="GET" if not body else "POST", url=url, data=body)
    SigV4Auth(Credentials("AKID", "s3cr3t"), "compute", "source").add_auth(req)
    environ: dict[str, object] = {
        "REQUEST_METHOD": req.method, "PATH_INFO": "/v2.1/servers/detail", "QUERY_STRING": query,
        "SCRIPT_NAME": "", "HTTP_HOST": "127.0.0.1:19311", "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body))}
    for name, value in req.headers.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ, body


@pytest.mark.parametrize("body,query", [(b"", ""), (b'{"server": {}}', ""), (b"", "limit=5&all_tenants=1")])
def test_signature_matches_botocore(body: bytes, query: str) -> None:
    """The signature recomputed from the WSGI request equals the one botocore's SigV4Auth made."""
    environ, raw = _signed(body, query)
    req = sigv4.parse(environ, raw)
    assert req is not None and req.access == "AKID"
    assert sigv4.signature(req, "s3cr3t") == req.signature
    assert sigv4.signature(req, "other") != req.signature


def test_tampered_request_no_longer_matches() -> None:
    """Changing the path after signing breaks the signature."""
    environ, raw = _signed()
    environ["PATH_INFO"] = "/v2.1/servers"
    req = sigv4.parse(environ, raw)
    assert req is not None and sigv4.signature(req, "s3cr3t") != req.signature


def test_unsigned_requests_are_not_parsed() -> None:
    """Requests without an AWS4-HMAC-SHA256 header are none of the filter's business."""
    assert sigv4.parse({"REQUEST_METHOD": "GET", "HTTP_X_AUTH_TOKEN": "t"}, b"") is None


def _key(status: KeyStatus = KeyStatus.ACTIVE, expires: float | None = 2000.0) -> AccessKey:
    return AccessKey("id", "AKID", "s", "u", "p", status, expires)


def test_refusal_names_why_a_key_cannot_be_used() -> None:
    """Unknown, revoked, expired and never-expiring keys are refused with their reason; others pass."""
    opts = KeyOptions()
    assert refusal(None, 1000, opts)[0] is Reason.KEY_UNKNOWN  # type: ignore[index]
    assert refusal(_key(KeyStatus.INACTIVE), 1000, opts)[0] is Reason.KEY_REVOKED  # type: ignore[index]
    assert refusal(_key(), 2000, opts)[0] is Reason.KEY_EXPIRED  # type: ignore[index]
    assert refusal(_key(KeyStatus.EXPIRED), 1000, opts)[0] is Reason.KEY_EXPIRED  # type: ignore[index]
    assert refusal(_key(expires=None), 1000, opts)[0] is Reason.KEY_NO_EXPIRY  # type: ignore[index]
    assert refusal(_key(expires=None), 1000, KeyOptions(allow_no_expiry=True)) is None
    assert refusal(_key(), 1000, opts) is None
