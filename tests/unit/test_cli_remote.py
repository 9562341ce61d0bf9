"""``opsflow jobs watch --api`` and ``opsflow flows show --api`` go through the one API client.

The API here is a stand-in (unit tests start no Keystone): a real HTTP server on loopback that
answers ``/v1/jobs/ID`` with the job as it is at each look and ``/v1/flows/NAME`` with a built-in
flow, in the JSON the real API sends, and ``connect`` yields a :class:`Client` of it without a
token. The functional suite (``tests/functional/api/test_cli.py``) runs the --api commands against
the real API and Keystone.
"""

from __future__ import annotations

import json
import threading
import wsgiref.simple_server
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from keystoneauth1 import session as ks_session

from opsflow import cli_remote
from opsflow.api.remote import Client
from tests.fixtures import opsflow

JOB = "5f0c2a4e-0000-4000-8000-000000000001"
FLOW = {"name": "demo", "description": "Say hello, then wait for a signal.", "on_failure": "revert", "tasks": 2,
        "inputs": [{"name": "who", "type": "string", "description": "Whom to greet.", "required": True},
                   {"name": "times", "type": "integer", "description": "How often.", "required": False,
                    "default": 1}],
        "text": "name: demo\n", "task_names": ["hello", "wait"]}


def _job(state: str, *, on_board: bool = True, run_state: str | None = "RUNNING", done: int = 0,
         running: str = "") -> dict[str, Any]:
    tasks = [{"path": "hello", "state": "SUCCESS" if done else ("RUNNING" if running == "hello" else "PENDING"),
              "duration": None, "error": None},
             {"path": "wait", "state": "SUCCESS" if done > 1 else ("RUNNING" if running == "wait" else "PENDING"),
              "duration": None, "error": None}]
    return {"id": JOB, "name": "demo", "state": state, "on_board": on_board, "project_id": "p", "user_id": "u",
            "claimed_by": "c1" if state == "running" else None, "submitted": "2026-12-02T00:00:00+00:00",
            "due": None, "run_state": run_state, "tasks_done": done, "tasks_total": 2, "parent_id": None,
            "tasks": tasks, "inputs": {}, "waiting": {}, "children": []}


class _Api:
    """Answers each look at the job with the next of ``looks`` (the last one from then on)."""

    def __init__(self) -> None:
        self.looks: list[dict[str, Any]] = []
        self.asked = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        path = environ["PATH_INFO"]
        if path == f"/v1/jobs/{JOB}":
            status, body = 200, {"job": self.looks[min(self.asked, len(self.looks) - 1)]}
            self.asked += 1
        elif path == "/v1/flows/demo":
            status, body = 200, {"flow": FLOW}
        else:
            status, body = 404, {"error": {"status": 404, "title": "Not Found", "message": f"nothing at {path}"}}
        data = json.dumps(body).encode()
        start_response(f"{status} X", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]


class _Quiet(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Api]:
    """The stand-in API, which every ``--api`` command of this process talks to."""
    app = _Api()
    server = wsgiref.simple_server.make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    @contextmanager
    def connect(_api: str) -> Iterator[Client]:
        yield Client(ks_session.Session(), f"http://127.0.0.1:{server.server_port}")

    monkeypatch.setattr(cli_remote, "connect", connect)
    try:
        yield app
    finally:
        server.shutdown()
        server.server_close()


def _lines(text: str) -> list[str]:
    """The lines of a watch without their timestamps."""
    return [line.split(" ", 1)[1] for line in text.splitlines()]


def test_watch_prints_each_change_and_exits_0_when_the_run_succeeded(
        api: _Api, capsys: pytest.CaptureFixture[str]) -> None:
    """One line per change (a look that changes nothing prints nothing), then the ended state, exit 0."""
    api.looks = [_job("queued"), _job("running", running="hello"), _job("running", running="hello"),
                 _job("running", done=1, running="wait"),
                 _job("succeeded", on_board=False, run_state="succeeded", done=2)]
    code, out, err = opsflow(capsys, "--api", "http://api", "jobs", "watch", JOB, "--interval", "0.1")
    assert (code, err) == (0, "")
    assert _lines(out) == [f"job {JOB} state=queued tasks done=0/2",
                           f"job {JOB} state=running tasks done=0/2 running=hello claimed by=c1",
                           f"job {JOB} state=running tasks done=1/2 running=wait claimed by=c1",
                           f"job {JOB} succeeded"]


def test_watch_exits_1_when_the_run_ended_otherwise(api: _Api, capsys: pytest.CaptureFixture[str]) -> None:
    """A job that left the board with a run that did not succeed (reverted) ends the watch with exit 1."""
    api.looks = [_job("reverted", on_board=False, run_state="reverted")]
    code, out, _ = opsflow(capsys, "jobs", "watch", JOB, "--api", "http://api", "--interval", "0.1")
    assert code == 1 and _lines(out) == [f"job {JOB} reverted"]


@pytest.mark.parametrize("state", ["paused", "failed"])
def test_watch_of_a_job_that_needs_an_operator_says_what_to_do_exit_1(
        api: _Api, capsys: pytest.CaptureFixture[str], state: str) -> None:
    """A paused or failed job stops the watch at once, naming resume and revert."""
    api.looks = [_job(state, done=1)]
    code, out, err = opsflow(capsys, "--api", "http://api", "jobs", "watch", JOB, "--interval", "0.1")
    assert code == 1 and _lines(out) == [f"job {JOB} state={state} tasks done=1/2"]
    assert err.strip() == (f"job {JOB} needs an operator: `opsflow resume {JOB}` after fixing the cause, "
                           f"or `opsflow revert {JOB}`")


def test_watch_gives_up_after_its_timeout(api: _Api, capsys: pytest.CaptureFixture[str]) -> None:
    """A job still running at --timeout ends the watch with exit 1 and one line saying so."""
    api.looks = [_job("running", running="hello")]
    code, _, err = opsflow(capsys, "--api", "http://api", "jobs", "watch", JOB, "--interval", "0.1",
                           "--timeout", "0.3")
    assert code == 1 and err.strip() == f"job {JOB} still running after 0.3 s"
    assert api.asked >= 3


def test_watch_of_an_unknown_job_is_the_apis_one_line_exit_2(api: _Api, capsys: pytest.CaptureFixture[str]) -> None:
    """The API's 404 is the caller's input: one line with its message, exit 2, as for jobs show."""
    code, out, err = opsflow(capsys, "--api", "http://api", "jobs", "watch", "nope")
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1 and err.startswith("opsflow: opsflow API at http://127.0.0.1:")
    assert err.rstrip().endswith(": nothing at /v1/jobs/nope")


def test_flows_show_names_a_built_in_flow_and_the_inputs_submit_takes(
        api: _Api, capsys: pytest.CaptureFixture[str]) -> None:
    """The flow's summary, then one row per input with its type, whether it is required and its default."""
    code, out, err = opsflow(capsys, "--api", "http://api", "flows", "show", "demo", "-f", "json")
    assert (code, err) == (0, "")
    assert json.loads(out) == {
        "name": "demo", "description": FLOW["description"], "on_failure": "revert", "tasks": 2,
        "inputs": [{"input": "who", "type": "string", "required": True, "default": None, "description": "Whom to greet."},
                   {"input": "times", "type": "integer", "required": False, "default": 1, "description": "How often."}]}
    code, out, _ = opsflow(capsys, "flows", "show", "demo", "--api", "http://api", "-f", "value", "-c", "on_failure")
    assert (code, out) == (0, "revert\nwho string True  Whom to greet.\ntimes integer False 1 How often.\n")
