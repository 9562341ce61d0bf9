"""Who is asking: the identity keystonemiddleware's ``auth_token`` put in the request's headers.

``auth_token`` runs with ``delay_auth_decision = true`` so that the version document, the OpenAPI
description and the dashboard's sign-in page answer without a token; every other route calls
:meth:`Context.require` and answers 401 when the identity is not confirmed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from opsflow.api.faults import ApiError
from opsflow.api.policy import Enforcer

__all__ = ["Context"]


@dataclasses.dataclass(frozen=True)
class Context:
    """The caller's identity and the policy that judges it."""

    #: Whether auth_token confirmed a token (``X-Identity-Status: Confirmed``).
    confirmed: bool
    user_id: str | None
    user_name: str | None
    project_id: str | None
    project_name: str | None
    roles: tuple[str, ...]
    enforcer: Enforcer

    @classmethod
    def from_environ(cls, environ: Mapping[str, Any], enforcer: Enforcer) -> Context:
        """Read auth_token's headers (they are set by it alone: it strips any the client sent)."""
        def header(name: str) -> str | None:
            value = environ.get("HTTP_" + name.upper().replace("-", "_"))
            return str(value) if value else None

        confirmed = header("X-Identity-Status") == "Confirmed"
        roles = tuple(r.strip() for r in (header("X-Roles") or "").split(",") if r.strip()) if confirmed else ()
        return cls(confirmed, header("X-User-Id") if confirmed else None, header("X-User-Name") if confirmed else None,
                   header("X-Project-Id") if confirmed else None, header("X-Project-Name") if confirmed else None,
                   roles, enforcer)

    def require(self) -> None:
        """401 unless a valid token came with the request."""
        if not self.confirmed:
            raise ApiError(401, "this request needs a valid Keystone token: send X-Auth-Token "
                                "(`openstack token issue`), or sign in at /dashboard/login",
                           headers={"WWW-Authenticate": 'Keystone uri="/"'})

    def can(self, rule: str, target: Mapping[str, Any] | None = None) -> bool:
        """Whether the policy allows ``rule`` on ``target``."""
        self.require()
        creds = Enforcer.credentials(self.project_id, self.user_id, self.roles)
        return self.enforcer.allowed(rule, target or {"project_id": self.project_id}, creds)

    def check(self, rule: str, target: Mapping[str, Any] | None = None) -> None:
        """403 unless the policy allows ``rule`` on ``target``."""
        if not self.can(rule, target):
            raise ApiError(403, f"policy does not allow {rule} for roles {', '.join(self.roles) or 'none'} "
                                f"in project {self.project_id}; ask an admin for a role on the project")

    @property
    def is_admin(self) -> bool:
        """Whether the caller may see every project."""
        return self.confirmed and self.can("opsflow:jobs:list_all", {})
