"""Requests paced by a run's api_calls_per_second: every request of a shared session, only inside a paced action."""

from __future__ import annotations

import http.server
import threading
import types
from collections.abc import Iterator
from typing import Any

import pytest
from keystoneauth1 import session as ks_session

from opsflow import clouds
from opsflow.errors import ActionFailed
from opsflow.tasks import slots
from opsflow.tasks.base import RunContext
from tests.fixtures import RecordingSlots, recorded_slots


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    """A local HTTP server answering 200 to every GET (the cloud API, as far as the session cares)."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def recording() -> Iterator[RecordingSlots]:
    with recorded_slots() as ours:
        yield ours


class _Lister(clouds.CloudAction):
    """An action that makes ``count`` requests to ``url``."""

    doing = "listing"

    def execute(self, cloud: str, url: str, count: int) -> None:
        for _ in range(count):
            self.session.request(url, "GET")


def test_requests_are_paced_per_cloud_only_inside_an_action_whose_run_sets_a_rate(
        server: str, recording: RecordingSlots) -> None:
    """The same shared session: unpaced outside actions and in runs without the limit; one unit of the
    cloud's bucket per request in a run with api_calls_per_second."""
    conn = types.SimpleNamespace(session=ks_session.Session())
    clouds._pace("east", conn)  # as every cached connection is
    conn.session.request(server, "GET")
    action = _Lister(name="list")
    action.session = conn.session
    action.context = RunContext(run_id="r", task_path="list")
    action.execute(cloud="east", url=server, count=2)
    assert recording.reserved == []

    action.context = RunContext(run_id="r", task_path="list", limits={"api_calls_per_second": 5, "transfers": 2})
    action.execute(cloud="east", url=server, count=3)
    assert recording.reserved == [(slots.Rate("api/east", 5), 1)] * 3


def test_a_bad_request_rate_fails_the_action_naming_the_key() -> None:
    """A hand-written run with api_calls_per_second 0 gets one line saying what to give."""
    with pytest.raises(ActionFailed, match=r"limits\.api_calls_per_second: 0; give a number"):
        with clouds.paced_calls({"api_calls_per_second": 0}):
            pass
