"""The TOTP guard: WSGI middleware in front of Keystone's token API (``POST /v3/auth/tokens``).

Keystone's own ``totp`` method and its receipts keep doing the authentication; the guard adds
what they lack (shared/TESTBED.md, "Auth"):

* a passcode accepted once is refused again for that user — the (user, time step) pair is marked
  in memcached with an atomic ``add``, so every worker and process agrees;
* failed passcodes, replays and wrong recovery codes count toward a lockout that refuses every
  login of the user for ``lockout_seconds`` (Keystone counts only failed passwords);
* users with configured roles, projects or domains must use a second factor even before they
  enrolled, and are told how to enroll;
* the drift window is configurable in both directions: a passcode from a neighbouring step is
  checked here and handed on to Keystone as the current step's passcode;
* a recovery code works once in place of a passcode;
* every refusal names its reason (:class:`~.replies.Reason`) instead of Keystone's generic 401.

The body is read with a cap (this runs before Keystone's sizelimit). Passcodes, recovery codes and
secrets are never logged: log lines carry the user id and the reason only.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from opsflow.plugins.keystone import enrollment as enr
from opsflow.plugins.keystone import otp, replies
from opsflow.plugins.keystone.directory import Directory, UserFacts
from opsflow.plugins.keystone.options import TotpOptions
from opsflow.plugins.keystone.replies import Reason
from opsflow.plugins.keystone.store import MemcacheStore, StoreUnavailable

__all__ = ["TotpGuard"]

LOG = logging.getLogger(__name__)

#: Seconds a used recovery code stays marked in the store; the record forgets it for good too.
_RECOVERY_MARK_SECONDS = 86400


class _Refused(Exception):
    """A token request the guard refuses, with the reply's code, reason and message."""

    def __init__(self, code: int, reason: Reason, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.extra = code, reason, message, extra


class TotpGuard:
    """Second-factor checks around a Keystone WSGI application."""

    #: The token API's path, as Keystone 30 receives it.
    TOKENS_PATH = "/v3/auth/tokens"

    def __init__(self, app: replies.App, options: TotpOptions, directory: Directory,
                 store: MemcacheStore | None = None, clock: Callable[[], float] = time.time) -> None:
        self.app = app
        self.options = options
        self.directory = directory
        self.store = store or MemcacheStore(options.memcache_servers)
        self.clock = clock

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO", "").rstrip("/") != self.TOKENS_PATH:
            return self.app(environ, start_response)
        try:
            body = replies.read_body(environ, self.options.max_body_bytes)
        except replies.BodyTooLarge as exc:
            return replies.deny(start_response, 413, Reason.BODY_TOO_LARGE, str(exc))
        try:
            new_body = self._check(json.loads(body or b"null"), environ)
        except _Refused as exc:
            return replies.deny(start_response, exc.code, exc.reason, exc.message, **exc.extra)
        except StoreUnavailable as exc:
            LOG.error("refusing a token request: %s", exc)
            return replies.deny(start_response, 503, Reason.STORE_UNAVAILABLE,
                                "the second-factor replay store is unreachable; try again shortly")
        except (ValueError, TypeError, AttributeError):
            new_body = None  # not a request the guard understands: Keystone answers it
        if new_body is not None:
            replies.replace_body(environ, new_body)
        return self.app(environ, start_response)

    # -- the checks ---------------------------------------------------------------------------

    def _check(self, data: Any, environ: dict[str, Any]) -> bytes | None:
        """Refuse, pass unchanged (None), or pass a rewritten body."""
        identity = data["auth"]["identity"]
        methods = list(identity.get("methods") or [])
        user_ref = (identity.get("totp") or {}).get("user") or (identity.get("password") or {}).get("user")
        if not user_ref or not ({"password", "totp"} & set(methods)):
            return None  # token, application credential, ec2: no second factor is asked of them
        user_id = self.directory.find_user(user_ref)
        if user_id is None:
            return None  # Keystone gives its own 401 for an unknown user
        if "totp" not in methods:
            if self._password_only_failures(user_id) >= self.options.lockout_failures:
                raise self._locked(user_id)
            self._without_passcode(self.directory.facts(user_id), environ)
            return None
        # with a passcode the lockout is read in the round trip that marks it used (or counted by
        # the failure), after the local check: one memcached round trip for an accepted passcode
        facts = self.directory.facts(user_id)
        if not facts.secrets:
            raise _Refused(401, Reason.ENROLLMENT_REQUIRED,
                           f"user {user_id} has no enrolled TOTP device; {self.options.enroll_hint}")
        passcode = str(identity["totp"]["user"].get("passcode") or "")
        current = self._verified_passcode(facts, passcode)
        if current == passcode:
            return None
        identity["totp"]["user"]["passcode"] = current
        return json.dumps(data).encode()

    def _password_only_failures(self, user_id: str) -> int:
        """The user's failed second factors, read for a login without a passcode.

        Without memcached this one check is skipped (and logged), not refused: every service user
        logs in with a password alone, so refusing would turn a memcached outage into an outage of
        the whole cloud, while nothing a replay store protects is at stake (Keystone still locks
        out failed passwords itself). Passcode logins fail closed.
        """
        try:
            return self.store.count("fail", user_id)
        except StoreUnavailable as exc:
            LOG.warning("TOTP lockout not checked for a password login of user %s: %s", user_id, exc)
            return 0

    def _without_passcode(self, facts: UserFacts, environ: dict[str, Any]) -> None:
        """A password-only request: Keystone's MFA rules answer it with a receipt once enrolled;
        before that, enforced users are refused here."""
        active = facts.enrollment is not None and facts.enrollment.state is enr.EnrollmentState.ACTIVE
        if active or environ.get("HTTP_OPENSTACK_AUTH_RECEIPT"):
            return
        if not self._enforced(facts):
            return
        if facts.secrets:
            raise _Refused(401, Reason.PASSCODE_REQUIRED,
                           "a TOTP passcode is required: send methods [\"password\", \"totp\"] with the "
                           "passcode of your authenticator app")
        raise _Refused(401, Reason.ENROLLMENT_REQUIRED,
                       f"your account must use a second factor (TOTP) and has none enrolled; "
                       f"{self.options.enroll_hint}")

    def _enforced(self, facts: UserFacts) -> bool:
        o = self.options
        return bool(facts.roles & set(o.enforce_roles) or facts.projects & set(o.enforce_projects)
                    or {facts.domain_id, facts.domain_name} & set(o.enforce_domains))

    def _verified_passcode(self, facts: UserFacts, passcode: str) -> str:
        """Check a passcode or recovery code; return the current step's passcode to hand on."""
        now = self.clock()
        if otp.is_recovery_code(passcode):
            if self.store.count("fail", facts.user_id) >= self.options.lockout_failures:
                raise self._locked(facts.user_id)
            self._use_recovery_code(facts, passcode)
            return otp.passcode_at(facts.secrets[0], now)
        o = self.options
        match = otp.match_passcode(facts.secrets, passcode, now, o.drift_past, o.drift_future)
        if match is None:
            raise self._failure(facts.user_id, Reason.PASSCODE_INVALID,
                                "the TOTP passcode is wrong or outside the accepted time window "
                                f"({o.drift_past} step(s) back, {o.drift_future} ahead); check the "
                                "device's clock")
        ttl = (o.drift_past + o.drift_future + 2) * otp.STEP
        first, failures = self.store.first_use_and_count("passcode", ttl, (facts.user_id, str(match.counter)),
                                                         ("fail", facts.user_id))
        if failures >= o.lockout_failures:
            # refused although right: a locked-out user's passcode is spent, harmlessly (the lockout
            # outlasts the passcode's window)
            raise self._locked(facts.user_id)
        if not first:
            raise self._failure(facts.user_id, Reason.PASSCODE_REPLAYED,
                                "this TOTP passcode was already used; wait for the next one")
        if failures:
            self.store.forget("fail", facts.user_id)
        LOG.info("TOTP passcode accepted for user %s", facts.user_id)
        return match.current

    def _use_recovery_code(self, facts: UserFacts, code: str) -> None:
        record = facts.enrollment
        stored = otp.match_recovery_code(record.recovery if record else (), code)
        if record is None or stored is None or not self.store.first_use(
                "recovery", _RECOVERY_MARK_SECONDS, facts.user_id, stored):
            raise self._failure(facts.user_id, Reason.RECOVERY_CODE_INVALID,
                                "the recovery code is wrong or was already used")
        left = tuple(h for h in record.recovery if h != stored)
        self.directory.save_enrollment(facts.enrollment_id, dataclasses.replace(record, recovery=left))
        self.store.forget("fail", facts.user_id)
        LOG.warning("recovery code used for user %s; %d left", facts.user_id, len(left))

    def _failure(self, user_id: str, reason: Reason, message: str) -> _Refused:
        failures = self.store.bump("fail", self.options.lockout_seconds, user_id)
        LOG.warning("refused a second factor for user %s: %s (%d failure(s))", user_id, reason.value, failures)
        if failures >= self.options.lockout_failures:
            return self._locked(user_id)
        return _Refused(401, reason, message, attempts_left=self.options.lockout_failures - failures)

    def _locked(self, user_id: str) -> _Refused:
        return _Refused(401, Reason.LOCKED_OUT,
                        f"user {user_id} is locked out after {self.options.lockout_failures} failed second "
                        f"factors; try again in {self.options.lockout_seconds} s or ask an administrator",
                        retry_after=self.options.lockout_seconds)
