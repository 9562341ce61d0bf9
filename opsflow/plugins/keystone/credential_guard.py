"""Keystone's credentials API, made safe for TOTP secrets and opsflow access keys.

Keystone returns a ``totp`` credential's secret in plain text to its owner and lets anyone with a
user token create ``ec2`` credentials that never expire. This middleware, wrapped around Keystone
with the TOTP guard:

* hides the blob of ``totp`` and ``opsflow-totp`` credentials from every token without the admin
  role (the secret is write-only for its owner once enrolled; operators' tooling still reads it);
* refuses ``ec2`` credentials whose ``expires_at`` is missing (unless the operator allows keys that
  never expire) or further away than ``max_expiry_days``, on create and on update, and the stock
  ``OS-EC2`` create, which cannot carry an expiry;
* refuses ``POST /v3/ec2tokens`` for revoked or expired keys, so every ec2tokens client (s3token
  without its cache, other EC2 tools) honours revocation at once;
* adds each access key's last use (time and address, which the filters record in the shared
  store) to the blobs it returns.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from opsflow.plugins.keystone import access_keys as keys
from opsflow.plugins.keystone import enrollment as enr
from opsflow.plugins.keystone import replies
from opsflow.plugins.keystone.options import KeyOptions
from opsflow.plugins.keystone.replies import Reason
from opsflow.plugins.keystone.store import MemcacheStore

__all__ = ["CredentialGuard"]

LOG = logging.getLogger(__name__)

_CREDENTIALS = re.compile(r"^/v3/credentials(/[^/]+)?/?$")
_OS_EC2 = re.compile(r"^/v3/users/[^/]+/credentials/OS-EC2/?$")
#: Types whose blob no non-admin token may read.
_WRITE_ONLY = frozenset({enr.TOTP_TYPE, enr.CREDENTIAL_TYPE})
#: Largest credentials request body read.
_MAX_BODY = 65536


class CredentialGuard:
    """Filters requests to, and responses from, Keystone's credential and ec2tokens APIs."""

    def __init__(self, app: replies.App, options: KeyOptions, directory: Any, store: MemcacheStore,
                 clock: Callable[[], float] = time.time) -> None:
        self.app = app
        self.options = options
        self.directory = directory
        self.store = store
        self.clock = clock

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
        if method == "POST" and path.rstrip("/") == "/v3/ec2tokens":
            return self._ec2tokens(environ, start_response)
        if method == "POST" and _OS_EC2.match(path) and not self.options.allow_no_expiry:
            return replies.deny(start_response, 400, Reason.EXPIRY_NOT_ALLOWED,
                                "EC2 credentials made here never expire, which this cloud does not accept; "
                                "use `opsflow keys create --expires 90d`")
        if not _CREDENTIALS.match(path):
            return self.app(environ, start_response)
        if method in ("POST", "PATCH"):
            refused = self._check_write(environ)
            if refused is not None:
                return replies.deny(start_response, 400, Reason.EXPIRY_NOT_ALLOWED, refused)
            return self.app(environ, start_response)
        if method == "GET":
            return self._filtered_read(environ, start_response)
        return self.app(environ, start_response)

    def _check_write(self, environ: dict[str, Any]) -> str | None:
        try:
            cred = json.loads(replies.read_body(environ, _MAX_BODY) or b"{}").get("credential") or {}
            blob = json.loads(cred["blob"]) if isinstance(cred.get("blob"), str) else None
        except (replies.BodyTooLarge, ValueError, AttributeError):
            return None  # Keystone answers what it cannot parse
        if not isinstance(blob, dict) or not (cred.get("type") == keys.EC2_TYPE or "access" in blob):
            return None
        expires = blob.get("expires_at")
        if expires is None:
            return None if self.options.allow_no_expiry else (
                "access keys must expire on this cloud: give the blob an expires_at (epoch seconds) or use "
                "`opsflow keys create --expires 90d`")
        limit = self.clock() + self.options.max_expiry_days * 86400 + 60
        if not isinstance(expires, (int, float)) or expires > limit:
            return (f"expires_at {expires!r} is beyond this cloud's maximum of {self.options.max_expiry_days} "
                    "days from now")
        return None

    def _ec2tokens(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            body = json.loads(replies.read_body(environ, _MAX_BODY) or b"{}")
            access = str(body["credentials"]["access"])
        except (replies.BodyTooLarge, ValueError, KeyError, TypeError):
            return self.app(environ, start_response)
        cred = self.directory.credential(keys.credential_id(access))
        key = keys.AccessKey.from_credential(cred) if cred and cred.get("type") == keys.EC2_TYPE else None
        why = keys.refusal(key, self.clock(), self.options) if key is not None else None
        if why is not None:
            LOG.warning("refused ec2tokens for access key %s: %s", access, why[0].value)
            return replies.deny(start_response, 401, why[0], why[1])
        return self.app(environ, start_response)

    def _filtered_read(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        chunks = self.app(environ, capture)
        try:
            body = b"".join(chunks)
        finally:
            getattr(chunks, "close", lambda: None)()
        if captured["status"].startswith("200"):
            body = self._rewrite(body, self._is_admin(environ))
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        start_response(captured["status"], [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def _is_admin(self, environ: dict[str, Any]) -> bool:
        token = environ.get("HTTP_X_AUTH_TOKEN")
        if not token:
            return False
        try:
            _, roles = self.directory.token_roles(token)
        except Exception:  # an invalid token: Keystone already refused it, or will
            return False
        return "admin" in roles

    def _rewrite(self, body: bytes, admin: bool) -> bytes:
        try:
            data = json.loads(body)
        except ValueError:
            return body
        creds = data.get("credentials") or ([data["credential"]] if "credential" in data else [])
        for cred in creds:
            if cred.get("type") in _WRITE_ONLY and not admin:
                cred["blob"] = ""
                cred["blob_hidden"] = "TOTP secrets are write-only; re-enroll to change the device"
            elif cred.get("type") == keys.EC2_TYPE:
                cred["blob"] = self._with_last_use(cred.get("blob", ""))
        return json.dumps(data).encode()

    def _with_last_use(self, blob: str) -> str:
        try:
            data = json.loads(blob)
            used = self.store.get("used", str(data["access"]))
        except Exception:  # an ec2 blob opsflow did not write, or memcached away: show it as it is
            return blob
        if used:
            at, _, address = used.partition(" ")
            data["last_used_at"], data["last_used_from"] = float(at), address
        return json.dumps(data)
