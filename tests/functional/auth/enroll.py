"""Driving the enrollment flow the way ``opsflow totp enroll`` does, for the tests."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp

from opsflow.engines.records import RunRecord, RunState
from opsflow.engines.runner import Runner
from opsflow.flows import loader
from opsflow.flows.resolver import BUILTIN_DIR
from opsflow.plugins.keystone import enrollment as enr

ADMIN_CLOUD = "devcloud-source-admin"


def definition(name: str) -> Any:
    """A built-in flow."""
    return loader.load_file(os.path.join(BUILTIN_DIR, f"{name}.yaml"))


@dataclass(frozen=True)
class Enrolled:
    """What a finished enrollment left the test."""

    secret: str
    recovery_codes: list[str]
    record: RunRecord


def pending_secret(admin: Any, user_id: str) -> str:
    """The secret of the user's pending enrollment (an admin may read it; its owner may not)."""
    creds = admin.identity.get("/credentials", params={"user_id": user_id, "type": enr.CREDENTIAL_TYPE}).json()
    return str(enr.Enrollment.from_blob(creds["credentials"][0]["blob"]).secret)


def start(runner: Runner, user_id: str, work: Path, **run: Any) -> RunRecord:
    """Run the enrollment flow up to its wait for the first code."""
    inputs = {"cloud": ADMIN_CLOUD, "user": user_id, "qr_dir": str(work / "qr"),
              "passcode_file": str(work / "code"), "recovery_file": str(work / "recovery")}
    return runner.run(definition("totp-enroll"), inputs, hold_waits=False, **run)


def confirm(runner: Runner, record: RunRecord, work: Path, code: str, **run: Any) -> RunRecord:
    """Answer with ``code`` and let the flow finish."""
    (work / "code").write_text(code)
    runner.signal(record.run_id, "confirmed")
    return runner.resume(record.run_id, hold_waits=False, **run)


def enroll(admin: Any, user_id: str, work: Path) -> Enrolled:
    """A complete enrollment of ``user_id``."""
    with Runner(f"sqlite:///{work}/state.db") as runner:
        record = start(runner, user_id, work)
        secret = pending_secret(admin, user_id)
        record = confirm(runner, record, work, pyotp.TOTP(secret).now())
    assert record.state is RunState.SUCCEEDED, record
    return Enrolled(secret, (work / "recovery").read_text().split(), record)
