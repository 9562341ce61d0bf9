"""The API from the other side: one client of ``/v1`` for ``opsflow ... --api`` and ``openstack flow|job``.

:class:`Client` speaks ``/v1`` over a keystoneauth session (the token comes from the session).
``opsflow --api URL`` gets one from :func:`connect`, which builds the session from the usual
OpenStack client settings (``OS_CLOUD`` and ``clouds.yaml``, or ``OS_*`` variables) through
openstacksdk; ``--api catalog`` finds the endpoint in the Keystone catalog (service type
``workflow-ops``). The ``openstack`` plugin hands it OSC's own session (:mod:`opsflow.osc.plugin`).

HTTP and keystoneauth errors become opsflow's exceptions here, once, so both commands say the
same line and ``opsflow`` keeps its exit codes: credentials refused (401) or not allowed (403)
exit 1 naming the credential problem; a request the API refuses (400, 404, 409, 413, 415, 422)
exits 2 with the API's own message; an API that does not answer exits 1 naming its URL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opsflow import errors

__all__ = ["API_ENV", "CATALOG", "SERVICE_TYPE", "Client", "connect"]

#: Environment variable naming the API (a URL, or ``catalog``).
API_ENV = "OPSFLOW_API"
#: The ``--api`` value that looks the endpoint up in the catalog.
CATALOG = "catalog"
#: The catalog's service type of opsflow's API (no official one exists; Mistral's is "workflow").
SERVICE_TYPE = "workflow-ops"
#: How the credentials are given, for the lines that say they were refused.
_CREDENTIALS = "the credentials of OS_CLOUD (clouds.yaml) or the OS_* variables"


class Client:
    """``/v1`` of one opsflow API endpoint, as the session's user."""

    def __init__(self, session: Any, endpoint: str) -> None:
        self.session = session
        self.endpoint = str(endpoint).rstrip("/")

    def request(self, method: str, path: str, *, raw: bool = False, **kwargs: Any) -> Any:
        """The JSON reply (the text with ``raw``); opsflow's exceptions for errors."""
        from keystoneauth1 import exceptions as ks_exc

        url = f"{self.endpoint}{path}"
        try:
            reply = self.session.request(url, method, raise_exc=False, **kwargs)
        except ks_exc.ConnectionError as exc:
            raise errors.BackendUnavailable(f"the opsflow API at {self.endpoint} does not answer: {exc}; "
                                            f"check the URL (--api, $OPSFLOW_API) or the catalog entry") from exc
        except (ks_exc.Unauthorized, ks_exc.AuthPluginException, ks_exc.AuthorizationFailure) as exc:
            raise errors.CloudUnreachable(self.endpoint, f"Keystone refused {_CREDENTIALS}: {exc}",
                                          status=401) from exc
        except ks_exc.ClientException as exc:
            raise errors.BackendUnavailable(f"the opsflow API at {self.endpoint} failed: {exc}") from exc
        if reply.status_code >= 400:
            raise _error(self.endpoint, reply)
        return reply.text if raw else reply.json()

    # -- flows -------------------------------------------------------------------------------------

    def flows(self) -> list[dict[str, Any]]:
        """The built-in flows."""
        return list(self.request("GET", "/v1/flows")["flows"])

    def flow(self, name: str) -> dict[str, Any]:
        """One built-in flow, its text included."""
        return dict(self.request("GET", f"/v1/flows/{name}")["flow"])

    def validate(self, text: str) -> dict[str, Any]:
        """``{"valid": true, "flow": ...}`` or ``{"valid": false, "error": {message, line, column}}``."""
        return dict(self.request("POST", "/v1/flows/validate", json={"definition": text}))

    def graph(self, name: str) -> list[dict[str, Any]]:
        """A built-in flow's graph as its tasks in order, each with what it does and the tasks it comes ``after``."""
        drawn = self.request("GET", f"/v1/flows/{name}/graph")
        after: dict[str, list[str]] = {}
        for upstream, downstream in drawn["edges"]:
            after.setdefault(downstream, []).append(upstream)
        return [{"name": n["name"], "what": n["what"], "after": after.get(n["name"], [])} for n in drawn["nodes"]]

    def svg(self, name: str) -> str:
        """A built-in flow's graph as the server draws it."""
        return str(self.request("GET", f"/v1/flows/{name}/graph", params={"format": "svg"}, raw=True))

    # -- jobs --------------------------------------------------------------------------------------

    def jobs(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every job matching ``filters`` (state, name, all_projects, project_id, limit), page by page."""
        params = {"limit": 1000, **{k: v for k, v in filters.items() if v is not None}}
        while True:
            page = self.request("GET", "/v1/jobs", params=params)
            yield from page["jobs"]
            if not page["links"] or not page["jobs"]:
                return
            params["marker"] = page["jobs"][-1]["id"]

    def job(self, job_id: str) -> dict[str, Any]:
        """One job with its tasks."""
        return dict(self.request("GET", f"/v1/jobs/{job_id}")["job"])

    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        """Submit a job: ``{"flow": NAME}`` or ``{"definition": YAML}``, with ``inputs``, ``on_failure``."""
        return dict(self.request("POST", "/v1/jobs", json=body)["job"])

    def act(self, job_id: str, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """resume, revert, cancel or signal (``{"name": SIGNAL}``) a job; the job as it is now."""
        return dict(self.request("POST", f"/v1/jobs/{job_id}/{action}", json=body or {})["job"])

    def forklift_report(self, job_id: str) -> dict[str, Any]:
        """A forklift job's report: ``servers`` (one row each) and ``summary``."""
        return dict(self.request("GET", f"/v1/jobs/{job_id}/forklift")["report"])

    # -- reclaim -----------------------------------------------------------------------------------

    def reclaim_servers(self, all_projects: bool = False) -> list[dict[str, Any]]:
        """The servers in a reclaim cycle the user may see (every project's for an admin with ``all_projects``)."""
        params = {"all_projects": "true"} if all_projects else {}
        return list(self.request("GET", "/v1/reclaim/servers", params=params)["servers"])

    def keep(self, server_id: str, days: float) -> dict[str, Any]:
        """Keep a server from being reclaimed for ``days``."""
        return dict(self.request("POST", f"/v1/reclaim/servers/{server_id}/keep", json={"days": days})["kept"])


def _message(reply: Any) -> str:
    try:
        return str(reply.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return str(reply.text).strip()[:300] or f"HTTP {reply.status_code}"


def _error(endpoint: str, reply: Any) -> errors.OpsflowError:
    """The one mapping of the API's error statuses to opsflow's exceptions (and so to exit codes)."""
    status, message = reply.status_code, _message(reply)
    if status == 401:
        return errors.CloudUnreachable(endpoint, f"the opsflow API at {endpoint} refused the token (401): "
                                                 f"{message}; check {_CREDENTIALS}", status=status)
    if status == 403:
        return errors.CloudUnreachable(endpoint, f"the opsflow API at {endpoint} does not let these credentials do "
                                                 f"this (403): {message}", status=status)
    if status == 409:
        return errors.InvalidState(f"opsflow API at {endpoint}: {message}")
    if 400 <= status < 500:
        return errors.InvalidInput(f"opsflow API at {endpoint}: {message}")
    return errors.BackendUnavailable(f"the opsflow API at {endpoint} failed ({status}): {message}")


@contextmanager
def connect(api: str) -> Iterator[Client]:
    """A client of the API at ``api`` (a URL, or ``catalog``), as the user of the OpenStack client settings."""
    import openstack
    from keystoneauth1 import exceptions as ks_exc

    try:
        conn = openstack.connect()
    except (openstack.exceptions.SDKException, ks_exc.ClientException) as exc:  # no cloud, no auth_url, ...
        raise errors.ConfigError(f"cannot use the OpenStack client settings for the opsflow API ({api}): {exc}; "
                                 f"set OS_CLOUD (clouds.yaml) or OS_* variables for Keystone") from exc
    try:
        try:  # the token first, so that a Keystone that does not answer is not taken for the API
            conn.session.get_token()
            found = conn.endpoint_for(SERVICE_TYPE) if api == CATALOG else api
        except ks_exc.ConnectionError as exc:
            raise errors.BackendUnavailable(f"Keystone does not answer, so no token for the opsflow API ({api}): "
                                            f"{exc}; check auth_url in {_CREDENTIALS}") from exc
        except ks_exc.EndpointNotFound:
            found = None
        except (ks_exc.ClientException, openstack.exceptions.SDKException) as exc:
            raise errors.CloudUnreachable(api, f"Keystone refused {_CREDENTIALS}: {exc}", status=401) from exc
        if not found:
            raise errors.ConfigError(f"the catalog has no {SERVICE_TYPE} endpoint for this region; give --api URL")
        yield Client(conn.session, str(found))
    finally:
        conn.close()
