"""The Keystone calls the identity actions make, through an openstacksdk connection by cloud name.

Credentials and user options are read and written with plain REST calls on the connection's
identity adapter (openstacksdk's ``Credential`` resource has no notion of user options, and the
blobs are JSON text either way). Keystone and keystoneauth errors are mapped here, once, to
:class:`~opsflow.errors.ActionFailed` naming the call and Keystone's own message.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opsflow import clouds
from opsflow.errors import ActionFailed

__all__ = ["Keystone"]


@contextmanager
def _mapped(what: str) -> Iterator[None]:
    from keystoneauth1 import exceptions as ks_exc

    try:
        yield
    except ks_exc.HttpError as exc:
        detail = exc.details or exc.message
        try:
            detail = exc.response.json()["error"]["message"]  # type: ignore[union-attr]
        except Exception:  # Keystone's body is not JSON: keep keystoneauth's text
            pass
        raise ActionFailed(f"Keystone refused {what}: {exc.http_status} {detail}") from exc
    except ks_exc.ClientException as exc:
        raise ActionFailed(f"cannot reach Keystone for {what}: {exc}") from exc


class Keystone:
    """Keystone as one cloud of ``clouds.yaml`` sees it."""

    def __init__(self, cloud: str) -> None:
        #: The cloud's name in clouds.yaml; given empty, ``$OS_CLOUD``'s.
        self.cloud = cloud or os.environ.get("OS_CLOUD", "")
        # The process's one authenticated connection to the cloud (a CloudNotFound naming the files
        # searched when clouds.yaml has no such cloud), not a new sign-in for every action.
        self.conn: Any = clouds.connect(self.cloud)

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        with _mapped(what):
            resp = getattr(self.conn.identity, method)(path, raise_exc=True, **kwargs)
        return resp.json() if resp.content else {}

    # -- users ---------------------------------------------------------------------------------

    def current_user(self) -> str:
        """Id of the user this cloud signs in as."""
        with _mapped("the current user"):
            return str(self.conn.current_user_id)

    def current_project(self) -> str:
        """Id of the project this cloud's token is scoped to."""
        with _mapped("the current project"):
            return str(self.conn.current_project_id)

    def user_id(self, user: str) -> str:
        """The id of ``user`` (a name in the cloud's domain, or an id); the current user when empty."""
        if not user:
            return self.current_user()
        found = self._call("get", "/users", f"the user {user!r}", params={"name": user}).get("users") or []
        if found:
            return str(found[0]["id"])
        self._call("get", f"/users/{user}", f"the user {user!r}")
        return user

    def project_id(self, project: str) -> str:
        """The id of ``project`` (name or id); the cloud's own project when empty."""
        if not project:
            return self.current_project()
        found = self._call("get", "/projects", f"the project {project!r}", params={"name": project}).get(
            "projects") or []
        return str(found[0]["id"]) if found else project

    def set_mfa(self, user_id: str, rules: list[list[str]] | None) -> None:
        """Set the user's ``multi_factor_auth_rules`` (None: clear them)."""
        options = {"multi_factor_auth_rules": rules, "multi_factor_auth_enabled": True if rules else None}
        self._call("patch", f"/users/{user_id}", f"the MFA rules of user {user_id}",
                   json={"user": {"options": options}})

    def mfa_rules(self, user_id: str) -> list[list[str]] | None:
        """The user's ``multi_factor_auth_rules``, or None."""
        user = self._call("get", f"/users/{user_id}", f"user {user_id}")["user"]
        rules = (user.get("options") or {}).get("multi_factor_auth_rules")
        return rules if rules else None

    # -- credentials -------------------------------------------------------------------------

    def credentials(self, kind: str, user_id: str = "") -> list[dict[str, Any]]:
        """Credentials of ``kind`` (of one user when given)."""
        params = {"type": kind, **({"user_id": user_id} if user_id else {})}
        return list(self._call("get", "/credentials", f"the {kind} credentials", params=params)["credentials"])

    def credential(self, credential_id: str) -> dict[str, Any] | None:
        """One credential, or None when it does not exist (or, to a non-admin, is not its own:
        Keystone answers 403, not 404, when a user asks for a credential id that does not exist)."""
        from keystoneauth1 import exceptions as ks_exc

        try:
            return dict(self._call("get", f"/credentials/{credential_id}", "a credential")["credential"])
        except ActionFailed as exc:
            if isinstance(exc.__cause__, (ks_exc.NotFound, ks_exc.Forbidden)):
                return None
            raise

    def create_credential(self, kind: str, user_id: str, blob: str | dict[str, Any],
                          project_id: str | None = None) -> dict[str, Any]:
        """Create a credential; a dict blob is stored as JSON."""
        body = {"type": kind, "user_id": user_id, "blob": blob if isinstance(blob, str) else json.dumps(blob),
                **({"project_id": project_id} if project_id else {})}
        return dict(self._call("post", "/credentials", f"a new {kind} credential",
                               json={"credential": body})["credential"])

    def update_blob(self, credential_id: str, blob: str | dict[str, Any]) -> None:
        """Replace a credential's blob."""
        text = blob if isinstance(blob, str) else json.dumps(blob)
        self._call("patch", f"/credentials/{credential_id}", f"credential {credential_id}",
                   json={"credential": {"blob": text}})

    def delete_credential(self, credential_id: str) -> bool:
        """Delete a credential; False when it was already gone (so reverts can run twice)."""
        if self.credential(credential_id) is None:
            return False
        self._call("delete", f"/credentials/{credential_id}", f"credential {credential_id}")
        return True
