"""Key rotation and the expiry sweep as flows, on a test clock, against the devcloud's Keystone."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from opsflow.devcloud.layout import Layout
from opsflow.engines.atoms import FailurePoint
from opsflow.engines.runner import Runner
from opsflow.plugins.keystone.access_keys import credential_id
from opsflow.services import smtp
from opsflow.engines.records import RunState
from tests.functional.auth import keys
from tests.functional.auth.conftest import ADMIN_CLOUD, User
from tests.functional.auth.enroll import definition

pytestmark = pytest.mark.functional

WEEK = 7 * 86400.0


class TestClock:
    """Wall clock plus an offset the test moves."""

    __test__ = False

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset


def _exists(admin: Any, access: str) -> bool:
    return bool(admin.identity.get(f"/credentials/{credential_id(access)}", raise_exc=False).ok)


def _status(admin: Any, access: str) -> str:
    import json

    cred = admin.identity.get(f"/credentials/{credential_id(access)}").json()["credential"]
    return str(json.loads(cred["blob"])["status"])


def _rotation_inputs(user: User, key: keys.Key, work: Path) -> dict[str, Any]:
    return {"cloud": user.cloud, "access": key.access, "secret_file": str(work / "new-secret"),
            "grace_seconds": WEEK}


def test_rotation_waits_out_the_grace_period_on_the_test_clock(make_user: Callable[..., User], admin: Any,
                                                              devcloud: Layout, tmp_path: Path) -> None:
    """Rotation makes the new key, mails its owner, waits a week (both keys work), then deactivates and
    deletes the old."""
    owner = f"{uuid.uuid4().hex[:8]}@example.org"
    user = make_user(email=owner)
    old = keys.create(user.cloud, tmp_path)
    clock = TestClock()
    with smtp.serving() as mail, Runner(f"sqlite:///{tmp_path}/rotate.db", clock=clock) as runner:
        inputs = {**_rotation_inputs(user, old, tmp_path), "notify": [{"email": {"port": mail.port}}]}
        record = runner.run(definition("keys-rotate"), inputs, hold_waits=False)
        assert record.state is RunState.WAITING
        new = keys.Key(next(t.result for t in record.tasks if t.path == "create")["access"],
                       (tmp_path / "new-secret").read_text().strip())
        (notice,) = mail.messages(owner)
        assert notice["Subject"] == f"Your access key {old.access} is being replaced"
        assert f"replaced by the new key {new.access}" in notice.get_content()
        assert new.secret not in notice.as_string() and old.secret not in notice.as_string()
        for key in (old, new):
            assert keys.send(keys.signed_nova_request(devcloud, key)).status_code == 200
        clock.offset = WEEK + 1
        record = runner.resume(record.run_id, hold_waits=False)
    assert record.state is RunState.SUCCEEDED, record
    assert not _exists(admin, old.access) and _status(admin, new.access) == "active"
    # the parked copy (kept so a failed step could bring the old key back) is purged at the end
    assert not admin.identity.get("/credentials", params={"user_id": user.id,
                                                          "type": "opsflow-ec2-retired"}).json()["credentials"]
    assert keys.send(keys.signed_nova_request(devcloud, new)).status_code == 200


@pytest.mark.parametrize("task,when", [*((t, w) for t in ("old", "create", "notify", "grace", "deactivate", "delete")
                                          for w in ("before", "after")), ("purge", "before")])
def test_failed_rotation_keeps_the_old_key_working(make_user: Callable[..., User], admin: Any,
                                                   tmp_path: Path, task: str, when: str) -> None:
    """A failure before or after any step reverts the rotation: the old key active, no new key left."""
    user = make_user()
    old = keys.create(user.cloud, tmp_path)
    with Runner(f"sqlite:///{tmp_path}/rotate.db", clock=TestClock()) as runner:
        inputs = {**_rotation_inputs(user, old, tmp_path), "grace_seconds": 0}
        record = runner.run(definition("keys-rotate"), inputs, failure_points=(FailurePoint(task, when),))
    assert record.state is RunState.REVERTED, record
    assert _status(admin, old.access) == "active"
    mine = admin.identity.get("/credentials", params={"user_id": user.id, "type": "ec2"}).json()["credentials"]
    assert [c["id"] for c in mine] == [credential_id(old.access)]
    assert not admin.identity.get("/credentials", params={"user_id": user.id,
                                                          "type": "opsflow-ec2-retired"}).json()["credentials"]


def test_sweep_expires_keys_past_their_date(make_user: Callable[..., User], admin: Any, tmp_path: Path) -> None:
    """The sweep marks a key expired once the (test) clock passes its date, and its revert undoes that."""
    user = make_user()
    key = keys.create(user.cloud, tmp_path, expires="1h")
    clock = TestClock()
    with Runner(f"sqlite:///{tmp_path}/sweep.db", clock=clock) as runner:
        first = runner.run(definition("keys-sweep"), {"cloud": ADMIN_CLOUD})
        assert key.access not in next(t.result for t in first.tasks if t.path == "expire")
        clock.offset = 3601
        swept = runner.run(definition("keys-sweep"), {"cloud": ADMIN_CLOUD},
                           failure_points=(FailurePoint("expire", "after"),))
        assert swept.state is RunState.REVERTED and _status(admin, key.access) == "active"
        done = runner.run(definition("keys-sweep"), {"cloud": ADMIN_CLOUD})
    assert key.access in next(t.result for t in done.tasks if t.path == "expire")
    assert _status(admin, key.access) == "expired"
