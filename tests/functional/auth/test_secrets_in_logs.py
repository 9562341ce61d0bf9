"""No secret ever reaches a log or the stored run state: a full run, then a grep."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyotp
import pytest
import requests
from click.testing import CliRunner

from opsflow.cli import main
from opsflow.devcloud.layout import Layout
from tests.functional.auth import keys
from tests.functional.auth.conftest import User
from tests.functional.auth.enroll import enroll

pytestmark = pytest.mark.functional


def _logs(devcloud: Layout) -> list[Path]:
    return [*devcloud.logs.glob("*.log"), *(devcloud.state / "swift" / "log").glob("*.log")]


def test_no_secret_in_any_log(devcloud: Layout, admin: Any, make_user: Callable[..., User],
                              login: Callable[..., requests.Response], tmp_path: Path,
                              caplog: pytest.LogCaptureFixture) -> None:
    """Enroll, log in (passcode, replay, wrong code, recovery code), use and revoke a key: no log holds a secret."""
    caplog.set_level(logging.DEBUG)
    offsets = {path: path.stat().st_size for path in _logs(devcloud)}
    user = make_user()
    done = enroll(admin, user.id, tmp_path)
    code = pyotp.TOTP(done.secret).now()
    login(user, user.password, code)
    login(user, user.password, code)
    login(user, user.password, "000000")
    login(user, user.password, done.recovery_codes[0])
    key = keys.create(user.cloud, tmp_path)
    keys.send(keys.signed_nova_request(devcloud, key))
    keys.s3(devcloud, key).list_buckets()
    CliRunner().invoke(main, ["keys", "revoke", key.access, "--os-cloud", user.cloud,
                              "--state", f"sqlite:///{tmp_path}/cli.db"])
    secrets = [done.secret, key.secret, *done.recovery_codes, user.password]
    written = {path: path.read_bytes()[offsets.get(path, 0):].decode(errors="replace") for path in _logs(devcloud)}
    written["opsflow (caplog)"] = caplog.text
    for db in tmp_path.glob("*.db"):
        written[f"run state {db.name}"] = db.read_bytes().decode(errors="replace")
    leaks = [(where, secret[:4] + "...") for where, text in written.items() for secret in secrets if secret in text]
    assert not leaks
    assert any("refused a second factor" in text for text in written.values())  # the logs were read
