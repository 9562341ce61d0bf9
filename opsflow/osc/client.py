"""A small HTTP client for ``/v1`` over a keystoneauth session (the token comes from the session)."""

from __future__ import annotations

from typing import Any

from osc_lib import exceptions

__all__ = ["Client"]


class Client:
    """``/v1`` of one opsflow API endpoint."""

    def __init__(self, session: Any, endpoint: str) -> None:
        self.session = session
        self.endpoint = endpoint.rstrip("/")

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON reply; CommandError with the API's message on any error status."""
        reply = self.session.request(f"{self.endpoint}{path}", method, raise_exc=False, **kwargs)
        if reply.status_code >= 400:
            try:
                message = reply.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = reply.text.strip()[:500]
            raise exceptions.CommandError(f"opsflow API: {reply.status_code}: {message}")
        return reply.json()

    def flows(self) -> list[dict[str, Any]]:
        """The built-in flows."""
        return list(self.request("GET", "/v1/flows")["flows"])

    def flow(self, name: str) -> dict[str, Any]:
        """One built-in flow."""
        return dict(self.request("GET", f"/v1/flows/{name}")["flow"])

    def validate(self, text: str) -> dict[str, Any]:
        """Whether a definition is valid, and where not."""
        return dict(self.request("POST", "/v1/flows/validate", json={"definition": text}))

    def jobs(self, **filters: Any) -> list[dict[str, Any]]:
        """Every page of jobs matching ``filters`` (state, name, all_projects, project_id, limit)."""
        params = {k: v for k, v in filters.items() if v is not None}
        found: list[dict[str, Any]] = []
        while True:
            page = self.request("GET", "/v1/jobs", params=params)
            found.extend(page["jobs"])
            if not page["links"] or not page["jobs"]:
                return found
            params["marker"] = page["jobs"][-1]["id"]

    def job(self, job_id: str) -> dict[str, Any]:
        """One job with its tasks."""
        return dict(self.request("GET", f"/v1/jobs/{job_id}")["job"])

    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        """Submit a job."""
        return dict(self.request("POST", "/v1/jobs", json=body)["job"])

    def act(self, job_id: str, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """resume, revert, cancel or signal a job."""
        return dict(self.request("POST", f"/v1/jobs/{job_id}/{action}", json=body or {})["job"])
