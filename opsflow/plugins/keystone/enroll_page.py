"""The browser enrollment page, served by the Keystone middleware at ``/opsflow/totp/enroll``.

Served from Keystone's own port so the user's password is checked by Keystone itself, in process,
and no second service or credential is needed. Three steps, each a plain HTML form: sign in with
name and password; scan the QR code (an inline SVG of the ``otpauth://`` URI, with the key in text
for apps that cannot scan) and answer with the first code; see the enrollment confirmed and the
recovery codes, once. Between steps the page carries only a random ticket whose meaning (user and
pending record) lives in the shared store for ten minutes. Activation is the same as the
enrollment flow's (:func:`~.enrollment.activated`): a pending record until the first valid code,
then the ``totp`` credential, hashed recovery codes and MFA rules.
"""

from __future__ import annotations

import html
import io
import logging
import secrets
import time
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

from opsflow.plugins.keystone import enrollment as enr
from opsflow.plugins.keystone import otp, replies
from opsflow.plugins.keystone.options import TotpOptions
from opsflow.plugins.keystone.store import MemcacheStore

__all__ = ["EnrollPage"]

LOG = logging.getLogger(__name__)

_STYLE = "body{font-family:sans-serif;max-width:34em;margin:2em auto}input{margin:.3em 0;display:block}"
#: Seconds a ticket between the page's steps stays valid.
TICKET_SECONDS = 600


def _page(title: str, body: str) -> bytes:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>").encode()


def _sign_in(message: str = "") -> bytes:
    note = f"<p id='message' role='alert'>{html.escape(message)}</p>" if message else ""
    return _page("Set up two-factor authentication", note +
                 "<form method='post'><input type='hidden' name='step' value='sign-in'>"
                 "<label>User name<input name='username' id='username' autocomplete='username'></label>"
                 "<label>Password<input name='password' id='password' type='password'></label>"
                 "<label>Domain<input name='domain' id='domain' value='Default'></label>"
                 "<button id='sign-in' type='submit'>Sign in</button></form>")


class EnrollPage:
    """The enrollment page; :meth:`__call__` answers requests under :attr:`PATH`."""

    PATH = "/opsflow/totp/enroll"

    def __init__(self, options: TotpOptions, directory: Any, store: MemcacheStore,
                 clock: Callable[[], float] = time.time) -> None:
        self.options = options
        self.directory = directory
        self.store = store
        self.clock = clock

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        status, body = "200 OK", _sign_in()
        if environ.get("REQUEST_METHOD") == "POST":
            try:
                form = dict(urllib.parse.parse_qsl(replies.read_body(environ, 16384).decode()))
            except replies.BodyTooLarge:
                form = {}
            status, body = self._post(form)
        start_response(status, [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body))),
                                ("Cache-Control", "no-store"), ("X-Frame-Options", "DENY")])
        return [body]

    def _post(self, form: dict[str, str]) -> tuple[str, bytes]:
        if form.get("step") == "confirm":
            return self._confirm(form.get("ticket", ""), form.get("passcode", ""))
        user_id = self.directory.find_user({"name": form.get("username"), "domain": {"name": form.get("domain")}})
        if user_id is None or not self.directory.authenticate(user_id, form.get("password", "")):
            return "401 Unauthorized", _sign_in("Wrong user name or password.")
        facts = self.directory.facts(user_id)
        if facts.enrollment is not None and facts.enrollment.state is enr.EnrollmentState.ACTIVE:
            return "409 Conflict", _page("Already enrolled", "<p id='message'>Two-factor authentication is "
                                         "already on for this account; ask an administrator to reset it.</p>")
        if facts.enrollment is not None:
            self.directory.delete_credential(facts.enrollment_id)  # a new scan replaces an unfinished one
        secret = otp.new_secret()
        record_id = self.directory.create_credential(
            user_id, enr.CREDENTIAL_TYPE, enr.Enrollment(enr.EnrollmentState.PENDING, secret=secret,
                                                         tag="enroll-page").to_blob())
        ticket = secrets.token_urlsafe(24)
        self.store.set("ticket", TICKET_SECONDS, f"{user_id} {record_id}", ticket)
        return "200 OK", self._scan(secret, form.get("username", user_id), ticket)

    def _scan(self, secret: str, account: str, ticket: str, message: str = "") -> bytes:
        import segno

        uri = otp.provisioning_uri(secret, account, self.options.issuer)
        svg = io.BytesIO()
        segno.make(uri, error="m").save(svg, kind="svg", scale=5, xmldecl=False, svgns=True)
        note = f"<p id='message' role='alert'>{html.escape(message)}</p>" if message else ""
        return _page("Scan the code", note +
                     f"<div id='qr' data-otpauth='{html.escape(uri)}'>{svg.getvalue().decode()}</div>"
                     f"<p>Can't scan? Enter this key: <code id='secret'>{html.escape(secret)}</code></p>"
                     "<form method='post'><input type='hidden' name='step' value='confirm'>"
                     f"<input type='hidden' name='ticket' value='{html.escape(ticket)}'>"
                     "<label>Code from your app<input name='passcode' id='passcode' inputmode='numeric' "
                     "autocomplete='one-time-code'></label><button id='confirm' type='submit'>Confirm</button>"
                     "</form>")

    def _confirm(self, ticket: str, passcode: str) -> tuple[str, bytes]:
        held = self.store.get("ticket", ticket) if ticket else None
        if not held:
            return "400 Bad Request", _sign_in("That page expired; sign in again.")
        user_id, _, record_id = held.partition(" ")
        cred = self.directory.credential(record_id)
        record = enr.Enrollment.from_blob(cred["blob"]) if cred else None
        if record is None or record.state is not enr.EnrollmentState.PENDING:
            return "400 Bad Request", _sign_in("That enrollment is gone; sign in again.")
        now = self.clock()
        match = otp.match_passcode([record.secret], passcode, now, self.options.drift_past, self.options.drift_future)
        if match is None or not self.store.first_use("passcode", 4 * otp.STEP, user_id, str(match.counter)):
            return "401 Unauthorized", self._scan(record.secret, user_id, ticket,
                                                  "That code is wrong or already used; try the next one.")
        totp_id = self.directory.create_credential(user_id, enr.TOTP_TYPE, record.secret)
        codes = otp.generate_recovery_codes(enr.RECOVERY_CODES)
        self.directory.save_enrollment(record_id, enr.activated(record, totp_id, codes, now))
        self.directory.set_mfa(user_id, True)
        self.store.forget("ticket", ticket)
        LOG.info("TOTP enrolled from the web page for user %s", user_id)
        listing = "".join(f"<li>{html.escape(c)}</li>" for c in codes)
        return "200 OK", _page("Two-factor authentication is on",
                               "<p id='message'>Enrollment confirmed. From now on sign in with your password "
                               "and a code from your app.</p><p>Recovery codes (each works once; they are "
                               f"shown only now):</p><ul id='recovery'>{listing}</ul>")
