"""What opsflow keeps about one user's TOTP enrollment: a Keystone credential of its own type.

Keystone's ``totp`` credential holds only the secret, and Keystone accepts it the moment it
exists. So an enrollment starts as an ``opsflow-totp`` credential in state ``pending`` that holds
the new secret (Keystone encrypts credential blobs at rest); only the first valid code turns it
``active``, creates the ``totp`` credential Keystone checks, stores the recovery codes' hashes here
and sets the user's MFA rules. The middleware refuses every read of both types' blobs by
non-admin tokens, so the secret is write-only for its owner.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Any

__all__ = ["CREDENTIAL_TYPE", "MFA_RULES", "RECOVERY_CODES", "TOTP_TYPE", "Enrollment", "EnrollmentState", "activated"]

#: Keystone credential type of the enrollment record.
CREDENTIAL_TYPE = "opsflow-totp"
#: Keystone's own TOTP credential type.
TOTP_TYPE = "totp"
#: ``multi_factor_auth_rules`` an active enrollment sets: password and passcode together.
MFA_RULES = [["password", "totp"]]
#: Recovery codes made at activation.
RECOVERY_CODES = 8


class EnrollmentState(enum.Enum):
    """Where an enrollment stands."""

    #: Secret made and shown; no code confirmed yet, so Keystone knows nothing of it.
    PENDING = "pending"
    #: Confirmed by a first code: the ``totp`` credential and MFA rules exist.
    ACTIVE = "active"


@dataclasses.dataclass(frozen=True)
class Enrollment:
    """The blob of an ``opsflow-totp`` credential."""

    #: Pending or active.
    state: EnrollmentState
    #: The secret while pending ("" once active: it then lives in the ``totp`` credential).
    secret: str = ""
    #: SHA-256 hashes of the recovery codes not used yet.
    recovery: tuple[str, ...] = ()
    #: Id of the ``totp`` credential made on activation.
    totp_credential_id: str = ""
    #: The run and task that made it (``RunContext.tag``), so a retried task adopts it.
    tag: str = ""
    #: When the first code was confirmed (epoch seconds), 0 while pending.
    confirmed_at: float = 0.0

    def to_blob(self) -> str:
        """The JSON Keystone stores."""
        data: dict[str, Any] = dataclasses.asdict(self)
        data["state"] = self.state.value
        data["recovery"] = list(self.recovery)
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_blob(cls, blob: str) -> Enrollment:
        """Parse a stored blob; unknown fields are ignored."""
        data = json.loads(blob)
        return cls(state=EnrollmentState(data.get("state", "pending")), secret=data.get("secret", ""),
                   recovery=tuple(data.get("recovery", ())),
                   totp_credential_id=data.get("totp_credential_id", ""), tag=data.get("tag", ""),
                   confirmed_at=float(data.get("confirmed_at", 0.0)))


def activated(record: Enrollment, totp_credential_id: str, recovery_codes: list[str], now: float) -> Enrollment:
    """The record once its first code is confirmed: active, secret moved out, recovery hashes in."""
    from opsflow.plugins.keystone import otp

    return dataclasses.replace(record, state=EnrollmentState.ACTIVE, secret="", totp_credential_id=totp_credential_id,
                               recovery=tuple(otp.hash_recovery_code(c) for c in recovery_codes), confirmed_at=now)
