"""What the TOTP middleware asks Keystone, in process, through Keystone's own provider APIs.

The middleware runs inside Keystone's process (wrapped around its WSGI callable), so it reads
users, role assignments and credentials the way Keystone's own ``totp`` method does — through
``ProviderAPIs`` and their caches — instead of calling its own API over HTTP, which would cost a
round trip and a worker thread per login. Importing this module needs Keystone; everything else
in the middleware does not, so unit tests can hand the guard a stand-in directory.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

from opsflow.plugins.keystone import enrollment as enr

__all__ = ["Directory", "KeystoneDirectory", "UserFacts"]


@dataclasses.dataclass(frozen=True)
class UserFacts:
    """What the guard needs to know about the user a token request names."""

    #: Keystone user id.
    user_id: str
    #: The user's domain id and name.
    domain_id: str
    domain_name: str
    #: Names of the user's effective roles, and ids and names of projects they hold roles on.
    roles: frozenset[str]
    projects: frozenset[str]
    #: Secrets of the user's ``totp`` credentials.
    secrets: tuple[str, ...]
    #: The enrollment record and its credential id, if any.
    enrollment: enr.Enrollment | None
    enrollment_id: str


class Directory(Protocol):
    """Looks users up and updates their enrollment (Keystone in process, or a test's stand-in)."""

    def find_user(self, user: dict[str, Any]) -> str | None:
        """The id of the user a token request's ``user`` object names (by id, or name + domain)."""

    def facts(self, user_id: str) -> UserFacts:
        """Everything the guard checks for ``user_id``."""

    def save_enrollment(self, credential_id: str, enrollment: enr.Enrollment) -> None:
        """Replace the blob of an enrollment record (a recovery code was used)."""


class KeystoneDirectory:
    """:class:`Directory` over Keystone's ``ProviderAPIs`` (only usable inside Keystone)."""

    def __init__(self) -> None:
        from keystone.common import provider_api

        self._providers: Any = provider_api.ProviderAPIs

    def find_user(self, user: dict[str, Any]) -> str | None:
        """Resolve ``{"id": ...}`` or ``{"name": ..., "domain": {"id"|"name": ...}}``."""
        from keystone import exception

        p = self._providers
        try:
            if user.get("id"):
                return str(p.identity_api.get_user(user["id"])["id"])
            domain = user.get("domain") or {}
            domain_id = domain.get("id") or p.resource_api.get_domain_by_name(domain.get("name"))["id"]
            return str(p.identity_api.get_user_by_name(user.get("name"), domain_id)["id"])
        except (exception.NotFound, KeyError, TypeError):
            return None

    def facts(self, user_id: str) -> UserFacts:
        """Read the user, its domain, its effective role assignments and its credentials."""
        p = self._providers
        user = p.identity_api.get_user(user_id)
        domain = p.resource_api.get_domain(user["domain_id"])
        roles, projects = set(), set()
        for assignment in p.assignment_api.list_role_assignments(user_id=user_id, effective=True):
            roles.add(p.role_api.get_role(assignment["role_id"])["name"])
            if assignment.get("project_id"):
                project = p.resource_api.get_project(assignment["project_id"])
                projects.update({project["id"], project["name"]})
        creds = p.credential_api.list_credentials_for_user(user_id)
        secrets = tuple(str(c["blob"]) for c in creds if c["type"] == enr.TOTP_TYPE)
        record = next((c for c in creds if c["type"] == enr.CREDENTIAL_TYPE), None)
        enrollment = enr.Enrollment.from_blob(record["blob"]) if record else None
        return UserFacts(user_id, domain["id"], domain["name"], frozenset(roles), frozenset(projects),
                         secrets, enrollment, record["id"] if record else "")

    def save_enrollment(self, credential_id: str, enrollment: enr.Enrollment) -> None:
        """Write the record back through the credential API (which re-encrypts it)."""
        self._providers.credential_api.update_credential(credential_id, {"blob": enrollment.to_blob()})

    def credential(self, credential_id: str) -> dict[str, Any] | None:
        """A credential with its blob decrypted, or None."""
        from keystone import exception

        try:
            return dict(self._providers.credential_api.get_credential(credential_id))
        except exception.NotFound:
            return None

    def token_roles(self, token_id: str) -> tuple[str, frozenset[str]]:
        """The user id and role names of a token (validated as Keystone would)."""
        token = self._providers.token_provider_api.validate_token(token_id)
        return str(token.user_id), frozenset(r["name"] for r in token.roles)

    def authenticate(self, user_id: str, password: str) -> bool:
        """Whether ``password`` is the user's (Keystone's own check, lockout included)."""
        from keystone import exception

        try:
            self._providers.identity_api.authenticate(user_id, password)
        except exception.Unauthorized:
            return False
        return True

    def create_credential(self, user_id: str, kind: str, blob: str) -> str:
        """Create a credential of ``kind`` for ``user_id``; return its id."""
        import uuid

        cred_id = uuid.uuid4().hex
        self._providers.credential_api.create_credential(
            cred_id, {"id": cred_id, "user_id": user_id, "type": kind, "blob": blob, "project_id": None})
        return cred_id

    def delete_credential(self, credential_id: str) -> None:
        """Delete a credential."""
        self._providers.credential_api.delete_credential(credential_id)

    def set_mfa(self, user_id: str, enabled: bool) -> None:
        """Set (or clear) the user's ``multi_factor_auth_rules`` password + totp."""
        options = ({"multi_factor_auth_rules": enr.MFA_RULES, "multi_factor_auth_enabled": True} if enabled
                   else {"multi_factor_auth_rules": None, "multi_factor_auth_enabled": None})
        self._providers.identity_api.update_user(user_id, {"options": options})
