"""The access-key check of Swift's S3 API: a proxy filter between ``s3api`` and ``s3token``.

``s3api`` has parsed the request into ``environ['s3api.auth_details']`` (access key, signature,
string to sign and a ``check_signature(secret)`` that compares in constant time). This filter
refuses unknown, revoked, expired, badly-timed, tampered and replayed requests before
``s3token`` — whose secret cache kept a deleted key working for its whole TTL — can vouch for
them; its own lookups are cached for only ``cache_seconds``. Refusals are raised as s3api's own
``InvalidAccessKeyId``/``AccessDenied``/``RequestTimeTooSkewed`` errors so S3 clients (awscli,
boto3) show the message; a plain 403 would be rewritten by s3api to "Access Denied".
"""

from __future__ import annotations

import calendar
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from opsflow.plugins.keystone.access_keys import KeyGate, KeyRefused
from opsflow.plugins.keystone import replies
from opsflow.plugins.keystone.replies import Reason
from opsflow.plugins.keystone.store import StoreUnavailable

__all__ = ["S3KeyFilter", "filter_factory"]

LOG = logging.getLogger(__name__)


def _request_time(environ: Mapping[str, Any]) -> float | None:
    raw = environ.get("HTTP_X_AMZ_DATE")
    if raw:
        return float(calendar.timegm(time.strptime(str(raw), "%Y%m%dT%H%M%SZ")))
    if environ.get("HTTP_DATE"):
        import email.utils

        return email.utils.parsedate_to_datetime(str(environ["HTTP_DATE"])).timestamp()
    return None


class S3KeyFilter:
    """Refuses S3 requests whose access key opsflow would not accept."""

    def __init__(self, app: replies.App, gate: KeyGate) -> None:
        self.app = app
        self.gate = gate

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        details = environ.get("s3api.auth_details")
        if not details:
            return self.app(environ, start_response)
        from swift.common.middleware.s3api import s3response

        access = str(details["access_key"])
        try:
            # s3api sends its subrequests of one client request through here with the same details
            self.gate.admit(access, _request_time(environ), str(details["signature"]), details["check_signature"],
                            str(environ.get("REMOTE_ADDR", "")), str(environ.get("swift.trans_id", "")))
        except KeyRefused as exc:
            LOG.warning("refused an S3 request with access key %s: %s", access, exc.reason.value)
            error = {Reason.REQUEST_TIME_SKEWED: s3response.RequestTimeTooSkewed,
                     Reason.SIGNATURE_MISMATCH: s3response.SignatureDoesNotMatch,
                     Reason.KEY_UNKNOWN: s3response.InvalidAccessKeyId}.get(exc.reason, s3response.AccessDenied)
            # raised, not returned: s3api turns a plain 403 from below into a bare "Access Denied"
            raise error(msg=f"{exc.reason.value}: {exc.message}") from exc
        except StoreUnavailable as exc:
            LOG.error("refusing an S3 request: %s", exc)
            raise s3response.ServiceUnavailable() from exc
        return self.app(environ, start_response)


def filter_factory(global_conf: Mapping[str, str], **local_conf: str) -> Callable[[replies.App], S3KeyFilter]:
    """Paste entry: ``paste.filter_factory = opsflow.plugins.swift.s3keys:filter_factory``."""
    gate = KeyGate.from_paste({**global_conf, **local_conf})
    return lambda app: S3KeyFilter(app, gate)
