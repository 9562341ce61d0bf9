"""`opsflow totp enroll` itself, run as a user runs it (the installed command, a terminal's stdin),
against the devcloud's real Keystone behind opsflow's middleware."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyotp
import pytest
import requests

from opsflow.identity import qr
from opsflow.plugins.keystone import enrollment as enr
from opsflow.plugins.keystone import otp
from tests.functional.auth.conftest import ADMIN_CLOUD, User
from tests.functional.auth.enroll import pending_secret

pytestmark = pytest.mark.functional

Login = Callable[..., requests.Response]
OPSFLOW = str(Path(sys.executable).with_name("opsflow"))


def _enroll(user: User, work: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([OPSFLOW, "totp", "enroll", "--os-cloud", ADMIN_CLOUD, "--user", user.name,
                             "--qr-dir", str(work / "qr"), "--state", f"sqlite:///{work}/state.db", *extra],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=os.environ.copy())


def _records(admin: Any, user_id: str) -> list[enr.Enrollment]:
    creds = admin.identity.get("/credentials", params={"user_id": user_id, "type": enr.CREDENTIAL_TYPE}).json()
    return [enr.Enrollment.from_blob(c["blob"]) for c in creds["credentials"]]


def test_enroll_shows_the_qr_code_waits_for_the_first_code_then_enables(
        admin: Any, make_user: Callable[..., User], login: Login, tmp_path: Path) -> None:
    """The command writes the QR code of the new secret, and the enrollment stays pending (password
    alone still logs in) until the code typed at its prompt; then it exits 0, printing recovery
    codes that work, and the password alone no longer suffices."""
    user = make_user()
    proc = _enroll(user, tmp_path)
    try:
        png = tmp_path / "qr" / "totp-qr.png"
        deadline = time.monotonic() + 120
        while not _records(admin, user.id) or not png.exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.5)
        # pending: Keystone knows no secret yet, so the password alone still works
        assert [r.state for r in _records(admin, user.id)] == [enr.EnrollmentState.PENDING]
        assert login(user, user.password).status_code == 201
        secret = pending_secret(admin, user.id)
        expected = qr.write(otp.provisioning_uri(secret, user.name, "OpenStack"), str(tmp_path / "expected"))
        assert png.read_bytes() == expected.png.read_bytes()  # the QR code is of the otpauth URI with the secret
        out, err = proc.communicate(pyotp.TOTP(secret).now() + "\n", timeout=180)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert expected.text.read_text() in out and "Scan the code" in out
    codes = out.split("shown only now):")[1].split()
    assert len(codes) == enr.RECOVERY_CODES and all(otp.is_recovery_code(c) for c in codes)
    assert [r.state for r in _records(admin, user.id)] == [enr.EnrollmentState.ACTIVE]
    assert login(user, user.password).status_code == 401
    assert login(user, user.password, codes[0]).status_code == 201


def test_enroll_with_a_wrong_code_or_unknown_user_fails_in_one_line(
        admin: Any, make_user: Callable[..., User], login: Login, tmp_path: Path) -> None:
    """A wrong first code exits 1 with one line saying so and enables nothing; an unknown user
    exits 1 with one line naming the user."""
    user = make_user()
    wrong = _enroll(user, tmp_path, "--code", "000000")
    out, err = wrong.communicate(timeout=180)
    assert wrong.returncode == 1 and err.count("\n") == 1, err
    assert err.startswith("opsflow: run ") and "does not match" in err
    assert _records(admin, user.id) == [] and login(user, user.password).status_code == 201

    ghost = subprocess.run([OPSFLOW, "totp", "enroll", "--os-cloud", ADMIN_CLOUD, "--user", "no-such-user-x1",
                            "--state", f"sqlite:///{tmp_path}/state.db"],
                           capture_output=True, text=True, timeout=180)
    assert ghost.returncode == 1 and ghost.stderr.count("\n") == 1, ghost.stderr
    assert "no-such-user-x1" in ghost.stderr
