"""The dashboard: plain HTML pages and a little JavaScript over ``/v1``, signed in through Keystone.

The sign-in form posts the user's name, password and project here; the server asks Keystone for
a project-scoped token (``POST /v3/auth/tokens``) and keeps it in an ``HttpOnly``,
``SameSite=Strict`` cookie. :class:`CookieToken`, a filter in front of ``auth_token``, hands that
cookie to ``auth_token`` as ``X-Auth-Token``, so the pages' requests are checked exactly like the
CLI's and policy applies the same way. The cookie counts for reads only, unless the request also
carries the header :data:`DASHBOARD_HEADER` (which a cross-site form cannot send): a page
elsewhere cannot act with someone's cookie.

Pages: the job list (live state, polled every second), a job's page (its graph drawn server-side
as SVG with task states coloured, progress, tasks and timings, and the forklift report with each
server's downtime for forklift jobs), and the servers in a reclaim cycle with a keep button for
their owners. No build step: the JavaScript and CSS are files in
``static/``.
"""

from __future__ import annotations

import html
import json
import string
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from typing import Any

import webob

from opsflow.api.app import Route
from opsflow.api.context import Context
from opsflow.api.faults import ApiError
from opsflow.api.services import Services

__all__ = ["COOKIE", "DASHBOARD_HEADER", "CookieToken", "cookie_filter_factory", "routes"]

#: The cookie holding the signed-in user's Keystone token.
COOKIE = "opsflow_token"
#: Header the dashboard's own scripts send with requests that change something.
DASHBOARD_HEADER = "X-Opsflow-Dashboard"
_SAFE = ("GET", "HEAD", "OPTIONS")
_STATIC = {"app.js": "application/javascript", "style.css": "text/css"}


class CookieToken:
    """WSGI filter: the dashboard's cookie becomes ``X-Auth-Token`` when the request has none."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Pass the request on, with the cookie's token where it may stand for the user."""
        if "HTTP_X_AUTH_TOKEN" not in environ and COOKIE in environ.get("HTTP_COOKIE", ""):
            method = environ.get("REQUEST_METHOD", "GET")
            header = "HTTP_" + DASHBOARD_HEADER.upper().replace("-", "_")
            if method in _SAFE or environ.get(header) == "1":
                token = webob.Request(environ).cookies.get(COOKIE)
                if token:
                    environ["HTTP_X_AUTH_TOKEN"] = token
        return self.app(environ, start_response)


def cookie_filter_factory(global_conf: Mapping[str, str], **local_conf: str) -> Callable[..., CookieToken]:
    """Paste entry: ``paste.filter_factory = opsflow.api.dashboard:cookie_filter_factory``."""
    return CookieToken


def _page(title: str, body: str, context: Context | None = None) -> webob.Response:
    who = ""
    if context is not None and context.confirmed:
        who = (f'<span class="who">{html.escape(context.user_name or "")} · '
               f'{html.escape(context.project_name or "")}</span>'
               '<form method="post" action="/dashboard/logout" class="logout"><button>Sign out</button></form>')
    text = string.Template(_LAYOUT).substitute(title=html.escape(title), body=body, who=who)
    return webob.Response(content_type="text/html", charset="utf-8", body=text.encode())


def _listing(context: Context, title: str, hint: str, table: str, columns: tuple[str, ...],
             extra: str = "") -> webob.Response:
    """A list page whose rows app.js fills from the API: an admin's lists every project's."""
    scope = "all_projects=true" if context.is_admin else ""
    every = " Every project (admin)." if context.is_admin else ""
    head = "".join(f"<th>{html.escape(column)}</th>" for column in columns)
    body = (f'<h1>{html.escape(title)}</h1><p class="hint">{html.escape(hint)}{every}</p>{extra}'
            f'<table id="{table}" data-query="{scope}"><thead><tr>{head}</tr></thead><tbody></tbody></table>')
    return _page(title, body, context)


_LAYOUT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>$title · opsflow</title>
<link rel="stylesheet" href="/dashboard/static/style.css"></head>
<body><header><a href="/dashboard/jobs" class="brand">opsflow</a>
<nav><a href="/dashboard/jobs">Jobs</a> <a href="/dashboard/reclaim">Reclaim</a></nav> $who</header>
<main>$body</main><script src="/dashboard/static/app.js"></script></body></html>
"""


def _login_form(message: str = "", username: str = "", project: str = "") -> str:
    note = f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""
    return (f'<h1>Sign in</h1>{note}<form method="post" action="/dashboard/login" class="login">'
            f'<label>User <input name="username" autocomplete="username" value="{html.escape(username)}" required></label>'
            '<label>Password <input name="password" type="password" autocomplete="current-password" required></label>'
            f'<label>Project <input name="project" value="{html.escape(project)}" required></label>'
            '<label>Domain <input name="domain" value="Default"></label>'
            '<button type="submit">Sign in</button></form>'
            '<p class="hint">Your Keystone user, as for <code>openstack</code>.</p>')


def keystone_token(auth_url: str, username: str, password: str, project: str, domain: str) -> tuple[str, str]:
    """A project-scoped token and its expiry from Keystone; ApiError(401) if refused."""
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": username, "password": password, "domain": {"name": domain}}}},
        "scope": {"project": {"name": project, "domain": {"name": domain}}}}}
    request = urllib.request.Request(f"{auth_url.rstrip('/')}/auth/tokens", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            token = reply.headers["X-Subject-Token"]
            expires = json.loads(reply.read())["token"]["expires_at"]
    except urllib.error.HTTPError as exc:
        if exc.code in (400, 401, 403, 404):
            raise ApiError(401, "Keystone refused the user name, password or project; check them and try again") \
                from None
        raise ApiError(502, f"Keystone answered {exc.code} at {auth_url}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ApiError(503, f"cannot reach Keystone at {auth_url}: {exc}") from None
    return str(token), str(expires)


def routes(services: Services) -> list[Route]:
    """The dashboard's pages."""

    def signed_in(context: Context) -> webob.Response | None:
        if context.confirmed:
            return None
        return webob.Response(status=303, location="/dashboard/login")

    def home(request: webob.Request, context: Context) -> Any:
        return webob.Response(status=303, location="/dashboard/jobs")

    def login_page(request: webob.Request, context: Context) -> Any:
        return _page("Sign in", _login_form())

    def login(request: webob.Request, context: Context) -> Any:
        form = request.POST
        username, project = form.get("username", ""), form.get("project", "")
        if not services.auth_url:
            raise ApiError(503, "this API has no auth_url configured; the dashboard cannot sign anyone in")
        try:
            token, expires = keystone_token(services.auth_url, username, form.get("password", ""), project,
                                            form.get("domain") or "Default")
        except ApiError as exc:
            reply = _page("Sign in", _login_form(exc.message, username, project))
            reply.status = exc.status
            return reply
        reply = webob.Response(status=303, location="/dashboard/jobs")
        reply.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/")
        return reply

    def logout(request: webob.Request, context: Context) -> Any:
        reply = webob.Response(status=303, location="/dashboard/login")
        reply.delete_cookie(COOKIE, path="/")
        return reply

    def job_list(request: webob.Request, context: Context) -> Any:
        redirect = signed_in(context)
        if redirect is not None:
            return redirect
        return _listing(
            context, "Jobs", "Live: refreshed every second.", "jobs",
            ("Job", "Flow", "State", "Progress", "Claimed by", "Submitted"))

    def job_page(request: webob.Request, context: Context, job_id: str) -> Any:
        redirect = signed_in(context)
        if redirect is not None:
            return redirect
        safe = html.escape(job_id)
        body = (f'<h1>Job <code>{safe}</code></h1><section id="job" data-job="{safe}">'
                '<p><span class="state" id="job-state">…</span> <span id="job-name"></span></p>'
                '<div class="progress"><div class="bar" id="job-bar"></div></div>'
                '<p id="job-progress"></p><div id="graph" class="graph"></div>'
                '<h2>Tasks</h2><table id="tasks"><thead><tr><th>Task</th><th>State</th><th>Started</th>'
                '<th>Seconds</th><th>Error</th></tr></thead><tbody></tbody></table>'
                '<div id="forklift" hidden><h2>Forklift report</h2><p id="forklift-summary"></p>'
                '<table id="servers"><thead><tr><th>Server</th><th>Outcome</th><th>Downtime (s)</th>'
                '<th>Bytes</th><th>Rate (MB/s)</th><th>Error</th></tr></thead><tbody></tbody></table></div>'
                '</section>')
        return _page(f"Job {job_id}", body, context)

    def reclaim_page(request: webob.Request, context: Context) -> Any:
        redirect = signed_in(context)
        if redirect is not None:
            return redirect
        return _listing(
            context, "Reclaim", "Servers picked as unused, and when they will be hibernated or deleted. "
            "Keep one to stop its reclaim for 30 days.", "reclaim",
            ("Server", "Project", "Why", "Due", "State", "Kept until", ""),
            '<p id="reclaim-message" role="status"></p>')

    def static(request: webob.Request, context: Context, filename: str) -> Any:
        if filename not in _STATIC:
            raise ApiError(404, f"no dashboard file {filename!r}")
        data = resources.files("opsflow.api").joinpath("static", filename).read_bytes()
        reply = webob.Response(content_type=_STATIC[filename], charset="utf-8", body=data)
        reply.cache_control = "no-cache"
        return reply

    return [
        Route("dashboard", "/dashboard", ["GET"], home),
        Route("dashboard_login_page", "/dashboard/login", ["GET"], login_page),
        Route("dashboard_login", "/dashboard/login", ["POST"], login),
        Route("dashboard_logout", "/dashboard/logout", ["POST"], logout),
        Route("dashboard_jobs", "/dashboard/jobs", ["GET"], job_list),
        Route("dashboard_job", "/dashboard/jobs/{job_id}", ["GET"], job_page),
        Route("dashboard_reclaim", "/dashboard/reclaim", ["GET"], reclaim_page),
        Route("dashboard_static", "/dashboard/static/{filename}", ["GET"], static),
    ]
