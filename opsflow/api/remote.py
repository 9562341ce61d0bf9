"""The API from the other side: ``opsflow jobs list|show --api URL`` instead of reaching ZooKeeper.

The token comes from the usual OpenStack client settings (``OS_CLOUD`` and ``clouds.yaml``, or
``OS_*`` variables), through openstacksdk's session; ``--api catalog`` finds the endpoint in the
Keystone catalog (service type ``workflow-ops``). HTTP errors become opsflow's own exceptions
once, here, so the CLI's exit codes and one-line messages stay what they are for ZooKeeper.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from opsflow import errors

__all__ = ["API_ENV", "CATALOG", "Remote"]

#: Environment variable naming the API (a URL, or ``catalog``).
API_ENV = "OPSFLOW_API"
#: The ``--api`` value that looks the endpoint up in the catalog.
CATALOG = "catalog"
SERVICE_TYPE = "workflow-ops"


class Remote:
    """``/v1`` of one opsflow API, as the user of the current OpenStack client settings."""

    def __init__(self, api: str) -> None:
        import openstack
        from keystoneauth1 import exceptions as ks_exc

        try:
            self._conn = openstack.connect()
            found = self._conn.endpoint_for(SERVICE_TYPE) if api == CATALOG else api
        except (openstack.exceptions.SDKException, ks_exc.ClientException) as exc:
            raise errors.ConfigError(
                f"cannot reach the opsflow API ({api}): {exc}; set OS_CLOUD (clouds.yaml) or OS_* variables "
                f"for Keystone, and give --api URL or --api catalog") from exc
        if not found:
            raise errors.ConfigError(f"the catalog has no {SERVICE_TYPE} endpoint; give --api URL")
        self.url = str(found).rstrip("/")

    def close(self) -> None:
        """Close the SDK connection."""
        self._conn.close()

    def __enter__(self) -> Remote:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def get(self, path: str, **params: Any) -> Any:
        """The JSON at ``path``; opsflow's exceptions for error statuses."""
        from keystoneauth1 import exceptions as ks_exc

        try:
            reply = self._conn.session.get(f"{self.url}{path}", params=params, raise_exc=False)
        except ks_exc.ClientException as exc:
            raise errors.BackendUnavailable(f"cannot reach the opsflow API at {self.url}: {exc}") from exc
        if reply.status_code >= 400:
            try:
                message = reply.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = reply.text.strip()[:300]
            raise _error(reply.status_code, f"opsflow API at {self.url}: {message}")
        return reply.json()

    def jobs(self) -> Iterator[dict[str, Any]]:
        """Every job the user may see, page by page."""
        params: dict[str, Any] = {"limit": 1000}
        while True:
            page = self.get("/v1/jobs", **params)
            yield from page["jobs"]
            if not page["links"] or not page["jobs"]:
                return
            params["marker"] = page["jobs"][-1]["id"]

    def job(self, job_id: str) -> dict[str, Any]:
        """One job with its tasks."""
        return dict(self.get(f"/v1/jobs/{job_id}")["job"])


def _error(status: int, message: str) -> errors.OpsflowError:
    if status in (400, 404, 422):
        return errors.InvalidInput(message)
    if status in (401, 403):
        return errors.ConfigError(message)
    if status == 409:
        return errors.InvalidState(message)
    return errors.BackendUnavailable(message)
