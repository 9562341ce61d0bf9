"""The TOTP second factor against the devcloud's real Keystone, behind opsflow's middleware."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyotp
import pytest
import requests

from opsflow.plugins.keystone import otp
from tests.functional.auth.conftest import MFA_ROLE, User, reason
from tests.functional.auth.enroll import enroll

pytestmark = pytest.mark.functional

Login = Callable[..., requests.Response]


def _wrong(secret: str) -> str:
    """A six-digit code that is not valid for ``secret`` anywhere near now."""
    near = {otp.passcode_at(secret, time.time() + step * otp.STEP) for step in range(-3, 4)}
    return next(f"{n:06d}" for n in range(100) if f"{n:06d}" not in near)


def test_enrolled_user_needs_password_and_passcode(admin: Any, make_user: Callable[..., User], login: Login,
                                                   tmp_path: Path) -> None:
    """Once enrolled, a password alone gets Keystone's receipt (401), password + passcode a token."""
    user = make_user()
    assert login(user, user.password).status_code == 201
    done = enroll(admin, user.id, tmp_path)
    alone = login(user, user.password)
    assert alone.status_code == 401 and "Openstack-Auth-Receipt" in alone.headers
    both = login(user, user.password, pyotp.TOTP(done.secret).now())
    assert both.status_code == 201, both.text


def test_receipt_then_passcode_gets_a_token(admin: Any, make_user: Callable[..., User], login: Login,
                                            tmp_path: Path) -> None:
    """Keystone's receipts keep working: the password's receipt plus a passcode gives a token."""
    user = make_user()
    done = enroll(admin, user.id, tmp_path)
    receipt = login(user, user.password).headers["Openstack-Auth-Receipt"]
    resp = login(user, passcode=pyotp.TOTP(done.secret).now(), receipt=receipt)
    assert resp.status_code == 201, resp.text


def test_a_passcode_is_accepted_once(admin: Any, make_user: Callable[..., User], login: Login,
                                     tmp_path: Path) -> None:
    """The same passcode a second time is refused as a replay, with that reason."""
    user = make_user()
    done = enroll(admin, user.id, tmp_path)
    code = pyotp.TOTP(done.secret).now()
    assert login(user, user.password, code).status_code == 201
    again = login(user, user.password, code)
    assert again.status_code == 401 and reason(again) == "totp_passcode_replayed", again.text


def test_recovery_code_works_once(admin: Any, make_user: Callable[..., User], login: Login,
                                  tmp_path: Path) -> None:
    """A recovery code stands in for a passcode once; the second use is refused."""
    user = make_user()
    done = enroll(admin, user.id, tmp_path)
    assert len(done.recovery_codes) == 8
    first = login(user, user.password, done.recovery_codes[0])
    assert first.status_code == 201, first.text
    second = login(user, user.password, done.recovery_codes[0])
    assert second.status_code == 401 and reason(second) == "totp_recovery_code_invalid"
    assert login(user, user.password, done.recovery_codes[1]).status_code == 201


def test_failed_passcodes_lock_the_user_out(admin: Any, make_user: Callable[..., User], login: Login,
                                            tmp_path: Path) -> None:
    """Five wrong passcodes lock the user out: then even the right one is refused, naming the lockout."""
    user = make_user()
    done = enroll(admin, user.id, tmp_path)
    wrong = _wrong(done.secret)
    answers = [login(user, user.password, wrong) for _ in range(5)]
    assert [reason(a) for a in answers[:4]] == ["totp_passcode_invalid"] * 4
    assert answers[0].json()["error"]["attempts_left"] == 4
    assert reason(answers[4]) == "totp_locked_out"
    right = login(user, user.password, pyotp.TOTP(done.secret).now())
    assert right.status_code == 401 and reason(right) == "totp_locked_out"


def test_enforced_role_must_enroll_first(make_user: Callable[..., User], login: Login) -> None:
    """A user with the enforced role and no device is refused with a body saying how to enroll."""
    user = make_user(MFA_ROLE)
    resp = login(user, user.password)
    assert resp.status_code == 401 and reason(resp) == "totp_enrollment_required"
    assert "opsflow totp enroll" in resp.json()["error"]["message"]


def test_owner_cannot_read_the_secret_back(admin: Any, make_user: Callable[..., User], login: Login,
                                           tmp_path: Path, devcloud: Any) -> None:
    """The user's own token lists its totp credentials without their secret; an admin's sees it."""
    user = make_user()
    done = enroll(admin, user.id, tmp_path)
    token = login(user, user.password, pyotp.TOTP(done.secret).now()).headers["X-Subject-Token"]
    mine = requests.get(f"{devcloud.auth_url}/credentials", headers={"X-Auth-Token": token}, timeout=30).json()
    totps = [c for c in mine["credentials"] if c["type"] == "totp"]
    assert totps and all(c["blob"] == "" for c in totps)
    assert done.secret not in str(mine)
    seen = admin.identity.get("/credentials", params={"user_id": user.id, "type": "totp"}).json()
    assert seen["credentials"][0]["blob"] == done.secret


def test_oversized_token_request_is_refused(make_user: Callable[..., User], devcloud: Any) -> None:
    """A token request body above the cap is refused before anything parses it."""
    resp = requests.post(f"{devcloud.auth_url}/auth/tokens", data=b"{" + b" " * 200000 + b"}",
                         headers={"Content-Type": "application/json"}, timeout=30)
    assert resp.status_code == 413 and reason(resp) == "body_too_large"
