"""The API client maps each error status once: 401/403 name the credentials, 4xx carry the API's message.

The server here is a stand-in (unit tests start no services): a real HTTP server on loopback that
answers each path with the status and the JSON error body the real API sends. The functional suite
(``tests/functional/api/test_cli.py``) runs the same mapping against the real API and Keystone.
"""

from __future__ import annotations

import json
import threading
import wsgiref.simple_server
from collections.abc import Iterator
from typing import Any

import pytest
from keystoneauth1 import session as ks_session

from opsflow import errors
from opsflow.api.remote import Client
from opsflow.services import zookeeper


class _Quiet(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


def _app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    status = int(environ["PATH_INFO"].rsplit("/", 1)[-1])
    body = json.dumps({"error": {"status": status, "title": "x", "message": f"the API says {status}"}}).encode()
    start_response(f"{status} X", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    """A client of the stand-in API."""
    server = wsgiref.simple_server.make_server("127.0.0.1", 0, _app, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Client(ks_session.Session(), f"http://127.0.0.1:{server.server_port}/")
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_are_a_failure_naming_them(client: Client, status: int) -> None:
    """401 and 403 raise CloudUnreachable (exit 1) with the status, the API's reason and the endpoint."""
    with pytest.raises(errors.CloudUnreachable) as caught:
        client.request("GET", f"/v1/{status}")
    assert caught.value.status == status
    assert f"({status}): the API says {status}" in str(caught.value) and client.endpoint in str(caught.value)
    if status == 401:
        assert "OS_CLOUD" in str(caught.value)


@pytest.mark.parametrize(("status", "kind"), [(400, errors.InvalidInput), (404, errors.InvalidInput),
                                              (413, errors.InvalidInput), (422, errors.InvalidInput),
                                              (409, errors.InvalidState)])
def test_refused_requests_carry_the_apis_message(client: Client, status: int, kind: type[Exception]) -> None:
    """400/404/413/422 are the caller's input, 409 the job's state: both exit 2 with the API's sentence."""
    with pytest.raises(kind, match=f"the API says {status}$"):
        client.request("POST", f"/v1/{status}", json={})


def test_a_server_error_is_a_failure(client: Client) -> None:
    """5xx is the service's failure (exit 1), with its status."""
    with pytest.raises(errors.BackendUnavailable, match=r"failed \(503\): the API says 503"):
        client.request("GET", "/v1/503")


def test_an_api_that_does_not_answer_is_one_line_naming_its_url() -> None:
    """Nothing listening: BackendUnavailable naming the URL and where it came from."""
    port = zookeeper.find_free_ports(1)
    gone = Client(ks_session.Session(), f"http://127.0.0.1:{port}")
    with pytest.raises(errors.BackendUnavailable) as caught:
        gone.request("GET", "/v1/jobs")
    assert f"the opsflow API at http://127.0.0.1:{port} does not answer" in str(caught.value)
    assert "\n" not in str(caught.value)
