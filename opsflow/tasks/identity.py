"""Identity actions: TOTP enrollment and access keys, each with its own revert.

Every action first looks for what an earlier try of the same run and task made (the ``tag`` kept
in the credential's blob) and adopts it; every revert finds its work the same way, or through
what the action wrote to the run's durable memory (``context.remember``) before acting, because a
task that failed after acting hands its revert no result. Every revert is safe to run twice. Secrets never enter a
task's result, which the engine stores: the QR code, the recovery codes and a new key's secret go
to owner-only files whose paths the caller chose (the CLI shows them once and deletes them).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import Any

from opsflow.errors import ActionFailed
from opsflow.identity import qr
from opsflow.identity.durations import expiry
from opsflow.identity.keystone_api import Keystone
from opsflow.plugins.keystone import enrollment as enr
from opsflow.plugins.keystone import otp
from opsflow.plugins.keystone.access_keys import EC2_TYPE, AccessKey, KeyStatus, credential_id
from opsflow.tasks.base import Action

__all__ = ["ActivateTotp", "BeginTotp", "CreateAccessKey", "DisableTotp", "ExpireAccessKeys",
           "RetireAccessKey", "SetAccessKeyStatus"]

LOG = logging.getLogger(__name__)

#: Credential type holding a deleted key's blob, so a revert can bring the key back.
RETIRED_TYPE = "opsflow-ec2-retired"


def _private_write(path: str, text: str) -> None:
    Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


class _Remembering(Action):
    """An action that notes, durably, what its revert needs before it acts."""

    def _remember(self, key: str, value: Any) -> Any:
        """The value stored under ``key`` for this task (``value`` if none yet; the first one wins)."""
        remember = self.context.remember
        return value if remember is None else remember(key, value)


def _records(ks: Keystone, user_id: str) -> list[tuple[str, enr.Enrollment]]:
    return [(c["id"], enr.Enrollment.from_blob(c["blob"])) for c in ks.credentials(enr.CREDENTIAL_TYPE, user_id)]


# -- TOTP --------------------------------------------------------------------------------------

class BeginTotp(Action):
    """Start an enrollment: a pending record with a new secret, and its QR code (PNG, SVG, text)."""

    def execute(self, cloud: str, qr_dir: str, user: str = "", issuer: str = "OpenStack") -> dict[str, Any]:
        """Return the user id, the pending record's id and the QR files' paths."""
        ks = Keystone(cloud)
        user_id = ks.user_id(user)
        record_id, record = "", None
        for cid, existing in _records(ks, user_id):
            if existing.tag == self.context.tag:
                record_id, record = cid, existing  # an earlier try of this task made it
            elif existing.state is enr.EnrollmentState.ACTIVE:
                raise ActionFailed(f"user {user_id} is already enrolled; `opsflow totp disable` (or an admin's "
                                   "`opsflow totp reset`) first")
            else:
                ks.delete_credential(cid)  # an unfinished enrollment is replaced by this one
        if record is None:
            record = enr.Enrollment(enr.EnrollmentState.PENDING, secret=otp.new_secret(), tag=self.context.tag)
            record_id = ks.create_credential(enr.CREDENTIAL_TYPE, user_id, record.to_blob())["id"]
        files = qr.write(otp.provisioning_uri(record.secret, user or user_id, issuer), qr_dir)
        LOG.info("TOTP enrollment %s pending for user %s", record_id, user_id)
        return {"user_id": user_id, "enrollment_id": record_id, "qr_png": str(files.png),
                "qr_svg": str(files.svg), "qr_text": str(files.text)}

    def revert(self, cloud: str, qr_dir: str, user: str = "", **kwargs: Any) -> None:
        """Delete the record this task made (found by its tag) and the QR files."""
        qr.remove(qr_dir)
        ks = Keystone(cloud)
        try:
            user_id = ks.user_id(user)
        except ActionFailed:
            return  # no such user (what failed the task): nothing was made for it
        for cid, record in _records(ks, user_id):
            if record.tag == self.context.tag:
                ks.delete_credential(cid)


class ActivateTotp(Action):
    """Confirm an enrollment with its first code: ``totp`` credential, recovery codes, MFA rules."""

    def execute(self, cloud: str, enrollment: dict[str, Any], passcode_file: str, recovery_file: str,
                drift: int = 1) -> dict[str, Any]:
        """Check the code in ``passcode_file``; write the recovery codes to ``recovery_file`` (0600)."""
        ks = Keystone(cloud)
        user_id, record_id = enrollment["user_id"], enrollment["enrollment_id"]
        cred = ks.credential(record_id)
        if cred is None:
            raise ActionFailed(f"enrollment {record_id} of user {user_id} is gone; enroll again")
        record = enr.Enrollment.from_blob(cred["blob"])
        if record.state is enr.EnrollmentState.ACTIVE:
            return {"totp_credential_id": record.totp_credential_id}  # an earlier try finished it
        try:
            passcode = Path(passcode_file).read_text().strip()
        except OSError as exc:
            raise ActionFailed(f"no first code was given ({passcode_file}: {exc.strerror}); enroll again") from exc
        finally:
            Path(passcode_file).unlink(missing_ok=True)
        if otp.match_passcode([record.secret], passcode, self.context.clock.now(), drift, drift) is None:
            raise ActionFailed("the first code does not match the new secret (wrong code, or the device's clock "
                               "is off); nothing was enabled, enroll again")
        totp = next((c for c in ks.credentials(enr.TOTP_TYPE, user_id) if c["blob"] == record.secret), None)
        totp_id = totp["id"] if totp else ks.create_credential(enr.TOTP_TYPE, user_id, record.secret)["id"]
        codes = otp.generate_recovery_codes(enr.RECOVERY_CODES)
        _private_write(recovery_file, "\n".join(codes) + "\n")
        ks.update_blob(record_id, enr.activated(record, totp_id, codes, self.context.clock.now()).to_blob())
        ks.set_mfa(user_id, enr.MFA_RULES)
        LOG.info("TOTP enrollment %s active for user %s", record_id, user_id)
        return {"totp_credential_id": totp_id}

    def revert(self, cloud: str, enrollment: dict[str, Any], recovery_file: str, **kwargs: Any) -> None:
        """Clear the MFA rules, delete the ``totp`` credential, put the record back to pending."""
        ks = Keystone(cloud)
        Path(recovery_file).unlink(missing_ok=True)
        cred = ks.credential(enrollment["enrollment_id"])
        if cred is None:
            return
        record = enr.Enrollment.from_blob(cred["blob"])
        if record.state is enr.EnrollmentState.PENDING:
            return
        ks.set_mfa(enrollment["user_id"], None)
        totp = ks.credential(record.totp_credential_id)
        secret = str(totp["blob"]) if totp else record.secret
        ks.delete_credential(record.totp_credential_id)
        ks.update_blob(cred["id"], dataclasses.replace(record, state=enr.EnrollmentState.PENDING, secret=secret,
                                                       recovery=(), totp_credential_id="").to_blob())


class DisableTotp(_Remembering):
    """Turn a user's second factor off: MFA rules cleared, ``totp`` credentials deleted.

    The record keeps the secret (encrypted by Keystone, readable by admins only) in state pending,
    so the revert can turn the same device back on; the next enrollment replaces the record.
    """

    def execute(self, cloud: str, user: str = "") -> dict[str, Any]:
        """Return the user id and what was removed."""
        ks = Keystone(cloud)
        user_id = ks.user_id(user)
        totps = ks.credentials(enr.TOTP_TYPE, user_id)
        records = _records(ks, user_id)
        had_rules = self._remember("had_rules", ks.mfa_rules(user_id) is not None)
        for cid, record in records:
            if record.state is enr.EnrollmentState.ACTIVE:
                secret = next((str(c["blob"]) for c in totps if c["id"] == record.totp_credential_id), record.secret)
                ks.update_blob(cid, dataclasses.replace(record, state=enr.EnrollmentState.PENDING, secret=secret,
                                                        tag=self.context.tag).to_blob())
        ks.set_mfa(user_id, None)
        for cred in totps:
            ks.delete_credential(cred["id"])
        LOG.info("TOTP disabled for user %s (%d device(s))", user_id, len(totps))
        return {"user_id": user_id, "devices": len(totps), "had_rules": had_rules}

    def revert(self, cloud: str, user: str = "", **kwargs: Any) -> None:
        """Bring the device back from the record this task parked, and the MFA rules."""
        ks = Keystone(cloud)
        user_id = ks.user_id(user)
        for cid, record in _records(ks, user_id):
            if record.tag != self.context.tag or record.state is enr.EnrollmentState.ACTIVE:
                continue
            totp = ks.create_credential(enr.TOTP_TYPE, user_id, record.secret)
            ks.update_blob(cid, dataclasses.replace(record, state=enr.EnrollmentState.ACTIVE, secret="",
                                                    totp_credential_id=totp["id"]).to_blob())
        if self._remember("had_rules", False):
            ks.set_mfa(user_id, enr.MFA_RULES)


# -- access keys -------------------------------------------------------------------------------

def _key(ks: Keystone, access: str) -> AccessKey:
    cred = ks.credential(credential_id(access))
    if cred is None or cred.get("type") != EC2_TYPE:
        raise ActionFailed(f"no access key {access!r}; `opsflow keys list` shows yours")
    return AccessKey.from_credential(cred)


class CreateAccessKey(Action):
    """A new access key for the cloud's user in a project, expiring as asked; its secret goes to a file."""

    def execute(self, cloud: str, secret_file: str, expires: str = "90d", project: str = "",
                description: str = "") -> dict[str, Any]:
        """Return the access key id, its credential id, project and expiry (never the secret)."""
        ks = Keystone(cloud)
        user_id = ks.current_user()
        mine = [AccessKey.from_credential(c) for c in ks.credentials(EC2_TYPE, user_id)]
        key = next((k for k in mine if k.tag == self.context.tag), None)
        if key is None:
            now = self.context.clock.now()
            key = AccessKey(credential_id="", access=os.urandom(16).hex(), secret=os.urandom(20).hex(),
                            user_id=user_id, project_id=ks.project_id(project), status=KeyStatus.ACTIVE,
                            expires_at=expiry(expires, now), created_at=now, description=description,
                            tag=self.context.tag)
            made = ks.create_credential(EC2_TYPE, user_id, key.blob(), key.project_id)
            key = dataclasses.replace(key, credential_id=made["id"])
        _private_write(secret_file, key.secret + "\n")
        LOG.info("access key %s created for user %s", key.access, user_id)
        return {"access": key.access, "credential_id": key.credential_id, "project_id": key.project_id,
                "expires_at": key.expires_at}

    def revert(self, cloud: str, secret_file: str, **kwargs: Any) -> None:
        """Delete the key this task made (found by its tag)."""
        Path(secret_file).unlink(missing_ok=True)
        ks = Keystone(cloud)
        for cred in ks.credentials(EC2_TYPE, ks.current_user()):
            if AccessKey.from_credential(cred).tag == self.context.tag:
                ks.delete_credential(cred["id"])


class SetAccessKeyStatus(_Remembering):
    """Revoke (``inactive``) or reactivate (``active``) a key; the revert restores the old status."""

    def execute(self, cloud: str, access: str, status: str = "inactive") -> dict[str, Any]:
        """Return the key and the status it had."""
        ks = Keystone(cloud)
        key = _key(ks, access)
        wanted = KeyStatus(status)
        self._remember("previous", key.status.value)
        if key.status is not wanted:
            ks.update_blob(key.credential_id, dataclasses.replace(key, status=wanted).blob())
        LOG.info("access key %s: %s -> %s", access, key.status.value, wanted.value)
        return {"access": access, "previous": key.status.value}

    def revert(self, cloud: str, access: str, **kwargs: Any) -> None:
        """Put the status back (nothing to do if the action never read it)."""
        previous = self._remember("previous", None)
        ks = Keystone(cloud)
        cred = ks.credential(credential_id(access))
        if previous is None or cred is None:
            return
        key = AccessKey.from_credential(cred)
        if key.status.value != previous:
            ks.update_blob(key.credential_id, dataclasses.replace(key, status=KeyStatus(previous)).blob())


def _parked(ks: Keystone, access: str) -> dict[str, Any] | None:
    return next((c for c in ks.credentials(RETIRED_TYPE) if json.loads(c["blob"]).get("access") == access), None)


class RetireAccessKey(Action):
    """Delete a key; its blob is parked in an ``opsflow-ec2-retired`` credential so a revert restores it."""

    def execute(self, cloud: str, access: str) -> dict[str, Any]:
        """Return the parked copy's id."""
        ks = Keystone(cloud)
        cred = ks.credential(credential_id(access))
        parked = _parked(ks, access)
        if cred is None and parked is None:
            raise ActionFailed(f"no access key {access!r} to delete")
        if parked is None and cred is not None:
            parked = ks.create_credential(RETIRED_TYPE, cred["user_id"], cred["blob"], cred.get("project_id"))
        if cred is not None:
            ks.delete_credential(cred["id"])
        assert parked is not None
        LOG.info("access key %s deleted", access)
        return {"access": access, "parked_id": parked["id"]}

    def revert(self, cloud: str, access: str, **kwargs: Any) -> None:
        """Recreate the key from the parked copy, then drop the copy."""
        ks = Keystone(cloud)
        parked = _parked(ks, access)
        if parked is None:
            return
        if ks.credential(credential_id(access)) is None:
            ks.create_credential(EC2_TYPE, parked["user_id"], parked["blob"], parked.get("project_id"))
        ks.delete_credential(parked["id"])


class PurgeRetiredKey(Action):
    """Drop the parked copy of a deleted key, the last place its secret was kept.

    The last step of a rotation: once the old key is deleted and nothing after can fail, a copy
    of its secret in Keystone is only a liability. From here the rotation cannot be undone: this
    step's revert has nothing to bring back (that is the point).
    """

    def execute(self, cloud: str, access: str) -> dict[str, Any]:
        """Return whether a copy was purged (False when an earlier try of this step did it)."""
        ks = Keystone(cloud)
        parked = _parked(ks, access)
        if parked is not None:
            ks.delete_credential(parked["id"])
            LOG.info("parked copy of access key %s purged", access)
        return {"access": access, "purged": parked is not None}


class ExpireAccessKeys(_Remembering):
    """The sweep: every active key past its expiry date is marked ``expired`` (admin cloud)."""

    def execute(self, cloud: str) -> list[str]:
        """Return the access ids it expired."""
        ks = Keystone(cloud)
        now = self.context.clock.now()
        due = []
        for cred in ks.credentials(EC2_TYPE):
            try:
                key = AccessKey.from_credential(cred)
            except (ValueError, KeyError):
                continue  # not a blob opsflow can read: leave it alone
            if key.status is KeyStatus.ACTIVE and key.expires_at is not None and key.expires_at <= now:
                due.append(key)
        expired: list[str] = self._remember("expired", [k.access for k in due])
        for key in due:
            if key.access in expired:
                ks.update_blob(key.credential_id, dataclasses.replace(key, status=KeyStatus.EXPIRED).blob())
        LOG.info("sweep expired %d access key(s)", len(expired))
        return expired

    def revert(self, cloud: str, **kwargs: Any) -> None:
        """Mark the keys this sweep expired active again."""
        ks = Keystone(cloud)
        for access in self._remember("expired", []):
            cred = ks.credential(credential_id(access))
            key = AccessKey.from_credential(cred) if cred else None
            if key is not None and key.status is KeyStatus.EXPIRED:
                ks.update_blob(key.credential_id, dataclasses.replace(key, status=KeyStatus.ACTIVE).blob())
