"""The TOTP flows' reverts: a failure at any step leaves the user as before."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyotp
import pytest
import requests

from opsflow.engines.atoms import FailurePoint
from opsflow.engines.runner import Runner
from opsflow.plugins.keystone import enrollment as enr
from opsflow.engines.records import RunState
from tests.functional.auth import enroll as flows
from tests.functional.auth.conftest import ADMIN_CLOUD, User

pytestmark = pytest.mark.functional


def _left(admin: Any, user_id: str) -> dict[str, Any]:
    creds = admin.identity.get("/credentials", params={"user_id": user_id}).json()["credentials"]
    options = admin.identity.get(f"/users/{user_id}").json()["user"].get("options", {})
    return {"types": sorted(c["type"] for c in creds), "rules": options.get("multi_factor_auth_rules")}


@pytest.mark.parametrize("task", ["begin", "confirm", "activate"])
@pytest.mark.parametrize("when", ["before", "after"])
def test_failed_enrollment_removes_all_of_it(admin: Any, make_user: Callable[..., User],
                                            login: Callable[..., requests.Response], tmp_path: Path,
                                            task: str, when: str) -> None:
    """A failure before or after any enrollment step leaves no record, no secret, no MFA rules."""
    user = make_user()
    points = (FailurePoint(task, when),)
    with Runner(f"sqlite:///{tmp_path}/state.db") as runner:
        record = flows.start(runner, user.id, tmp_path, failure_points=points)
        if record.state is RunState.WAITING:
            code = pyotp.TOTP(flows.pending_secret(admin, user.id)).now()
            record = flows.confirm(runner, record, tmp_path, code, failure_points=points)
    assert record.state is RunState.REVERTED, record
    assert _left(admin, user.id) == {"types": [], "rules": None}
    assert not list((tmp_path / "qr").glob("*")) and not (tmp_path / "recovery").exists()
    assert login(user, user.password).status_code == 201


def test_wrong_first_code_enables_nothing(admin: Any, make_user: Callable[..., User], tmp_path: Path) -> None:
    """A wrong first code fails the enrollment and reverts it."""
    user = make_user()
    with Runner(f"sqlite:///{tmp_path}/state.db") as runner:
        record = flows.confirm(runner, flows.start(runner, user.id, tmp_path), tmp_path, "000000")
    assert record.state is RunState.REVERTED
    assert "does not match" in str([t.error for t in record.tasks])
    assert _left(admin, user.id) == {"types": [], "rules": None}


def test_qr_files_hold_a_standard_otpauth_uri(admin: Any, make_user: Callable[..., User], tmp_path: Path) -> None:
    """The enrollment writes PNG, SVG and terminal renderings, owner-only."""
    user = make_user()
    with Runner(f"sqlite:///{tmp_path}/state.db") as runner:
        record = flows.start(runner, user.id, tmp_path)
        begun = next(t.result for t in record.tasks if t.path == "begin")
        for name in ("qr_png", "qr_svg", "qr_text"):
            path = Path(begun[name])
            assert path.stat().st_size > 0 and path.stat().st_mode & 0o077 == 0
        assert Path(begun["qr_png"]).read_bytes().startswith(b"\x89PNG")
        runner.revert(record.run_id)


@pytest.mark.parametrize("when", ["before", "after"])
def test_disable_and_its_revert(admin: Any, make_user: Callable[..., User], login: Callable[..., requests.Response],
                                tmp_path: Path, when: str) -> None:
    """Disabling lets the password alone in again; a failed disable leaves the device working."""
    user = make_user()
    done = flows.enroll(admin, user.id, tmp_path)
    with Runner(f"sqlite:///{tmp_path}/state.db") as runner:
        failed = runner.run(flows.definition("totp-disable"), {"cloud": ADMIN_CLOUD, "user": user.id},
                            failure_points=(FailurePoint("disable", when),))
        assert failed.state is RunState.REVERTED
        assert login(user, user.password).status_code == 401
        assert login(user, user.password, pyotp.TOTP(done.secret).now()).status_code == 201
        ok = runner.run(flows.definition("totp-disable"), {"cloud": ADMIN_CLOUD, "user": user.id})
    assert ok.state is RunState.SUCCEEDED
    assert enr.TOTP_TYPE not in _left(admin, user.id)["types"] and _left(admin, user.id)["rules"] is None
    assert login(user, user.password).status_code == 201
