"""What a sweep knows of a cloud, read with listing calls only.

One paged ``GET /servers/detail?all_tenants`` (1,000 a page), one ``GET /users`` and one
``GET /projects`` from Keystone describe every server, its owner and its project: a sweep of 500
servers makes three calls, not 500. The one exception is a hypervisor's diagnostics, which Nova
gives per server only: :meth:`Inventory.diagnostics` fetches them for the few servers a detector
has already short-listed (an idle candidate), and counts them apart.

Every HTTP request made while reading (token requests included) is counted in :attr:`Inventory.calls`
by a response hook on the connection's session, so the count is the wire's, not the code's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any

from opsflow import clouds
from opsflow.errors import CloudError

__all__ = ["Inventory", "Owner", "ServerView", "parse_time"]

LOG = logging.getLogger(__name__)


def parse_time(text: str | None) -> float | None:
    """Epoch seconds of a Nova/Keystone timestamp (``2026-12-01T12:00:00Z`` or without zone), or None."""
    if not text:
        return None
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


@dataclasses.dataclass(frozen=True)
class ServerView:
    """One server as the listing shows it."""

    id: str
    name: str
    status: str
    project_id: str
    user_id: str
    flavor: str
    tags: tuple[str, ...]
    metadata: Mapping[str, str]
    created: float | None
    launched: float | None
    host: str

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> ServerView:
        """From one entry of ``/servers/detail`` (microversion 2.47 or later: the flavor embedded)."""
        flavor = raw.get("flavor") or {}
        return cls(
            id=raw["id"], name=raw.get("name") or "", status=raw.get("status") or "",
            project_id=raw.get("tenant_id") or "", user_id=raw.get("user_id") or "",
            flavor=flavor.get("original_name") or flavor.get("id") or "",
            tags=tuple(raw.get("tags") or ()), metadata=dict(raw.get("metadata") or {}),
            created=parse_time(raw.get("created")), launched=parse_time(raw.get("OS-SRV-USG:launched_at")),
            host=raw.get("OS-EXT-SRV-ATTR:host") or "",
        )


@dataclasses.dataclass(frozen=True)
class Owner:
    """A Keystone user or project: its name, whether it is enabled, and (users) its e-mail."""

    id: str
    name: str
    enabled: bool
    email: str = ""


class Inventory:
    """Servers, users and projects of one cloud, read once; diagnostics on demand."""

    #: Servers asked for per page (Nova's default ``max_limit``).
    PAGE = 1000
    #: Microversion of the listing: tags (2.26) and the embedded flavor (2.47).
    MICROVERSION = "2.79"

    def __init__(self, cloud: str) -> None:
        self.cloud = cloud
        #: HTTP requests made so far (listing pages, token requests, diagnostics).
        self.calls = 0
        #: Of those, diagnostics requests (one per idle candidate).
        self.diagnostics_calls = 0
        self.servers: list[ServerView] = []
        self.users: dict[str, Owner] = {}
        self.projects: dict[str, Owner] = {}
        self._diagnostics: dict[str, Mapping[str, Any] | None] = {}
        self._conn: Any = None

    @contextlib.contextmanager
    def _counting(self) -> Iterator[Any]:
        with clouds.errors(self.cloud, "listing servers, users and projects"):
            conn = self._conn or clouds.connect(self.cloud)
            self._conn = conn
            hooks = conn.session.session.hooks["response"]

            def count(response: Any, *args: Any, **kwargs: Any) -> Any:
                self.calls += 1
                return response

            hooks.append(count)
            try:
                yield conn
            finally:
                hooks.remove(count)

    def read(self) -> Inventory:
        """List everything (servers page by page, then users and projects); returns self."""
        with self._counting() as conn:
            marker: str | None = None
            while True:
                params: dict[str, Any] = {"all_tenants": 1, "limit": self.PAGE}
                if marker:
                    params["marker"] = marker
                page = self._get(conn.compute, "/servers/detail", "listing servers", params=params,
                                 microversion=self.MICROVERSION)
                found = page.get("servers") or []
                self.servers.extend(ServerView.of(raw) for raw in found)
                if len(found) < self.PAGE or not page.get("servers_links"):
                    break
                marker = found[-1]["id"]
            self.users = {u.id: u for u in self._keystone(conn, "/users", "users")}
            self.projects = {p.id: p for p in self._keystone(conn, "/projects", "projects")}
        LOG.info("inventory of %s: %d servers, %d users, %d projects in %d calls", self.cloud,
                 len(self.servers), len(self.users), len(self.projects), self.calls)
        return self

    #: Tries of a listing call that fails with a server error (an API busy behind its own backends).
    TRIES = 4

    def _get(self, adapter: Any, url: str, doing: str, **kwargs: Any) -> Any:
        """The JSON body of a GET; a 5xx is tried again (a few times, backing off), any other error raises.

        The sdk's raw calls return error responses instead of raising: an error body read as an
        empty page would make a whole cloud look empty, so every status is checked here.
        """
        delay = 1.0
        for attempt in range(1, self.TRIES + 1):
            response = adapter.get(url, **kwargs)
            if response.status_code < 400:
                return response.json()
            if response.status_code < 500 or attempt == self.TRIES:
                raise CloudError(self.cloud, f"cloud {self.cloud!r} failed {doing}: HTTP {response.status_code} "
                                 f"{response.text[:200]}", status=response.status_code)
            LOG.warning("cloud %s: %s answered %d; trying again in %.0f s", self.cloud, url, response.status_code,
                        delay)
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    def read_one(self, server_id: str) -> ServerView | None:
        """Read one server (a run's re-check), its owner and project; None when it is gone."""
        with self._counting() as conn:
            response = conn.compute.get(f"/servers/{server_id}", microversion=self.MICROVERSION)
            if response.status_code == 404:
                return None
            if response.status_code >= 400:
                raise CloudError(self.cloud, f"cloud {self.cloud!r} failed reading server {server_id}: "
                                 f"HTTP {response.status_code}", status=response.status_code)
            server = ServerView.of(response.json()["server"])
            self.servers = [server]
            self.users = {u.id: u for u in self._keystone(conn, "/users", "users")}
            self.projects = {p.id: p for p in self._keystone(conn, "/projects", "projects")}
        return server

    def _keystone(self, conn: Any, url: str, key: str) -> Iterator[Owner]:
        next_url: str | None = url
        while next_url:
            body = self._get(conn.identity, next_url, f"listing {key}")
            for raw in body.get(key) or []:
                yield Owner(raw["id"], raw.get("name") or "", bool(raw.get("enabled", True)), raw.get("email") or "")
            next_url = (body.get("links") or {}).get("next")

    def diagnostics(self, server_id: str) -> Mapping[str, Any] | None:
        """The hypervisor's diagnostics of one server (legacy form, with ``last_activity`` from the
        simulator), or None when the hypervisor gives none. One call per server, remembered."""
        if server_id in self._diagnostics:
            return self._diagnostics[server_id]
        with self._counting() as conn:
            self.diagnostics_calls += 1
            response = conn.compute.get(f"/servers/{server_id}/diagnostics", microversion="2.1")
            found = response.json() if response.status_code == 200 else None
        self._diagnostics[server_id] = found
        return found

    def project_name(self, project_id: str) -> str:
        """A project's name, or its id when Keystone has no such project."""
        owner = self.projects.get(project_id)
        return owner.name if owner is not None else project_id
