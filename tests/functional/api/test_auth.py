"""The API with real Keystone tokens: owner, admin, another project's user, a reader, and no token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import botocore.auth
import pytest
import requests
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from opsflow.devcloud import clouds
from tests.functional.api.conftest import Api, Persona
from tests.functional.auth import keys

pytestmark = pytest.mark.functional

TWO_STEPS = """
name: api-two-steps
tasks:
  - name: first
    action: core.noop
  - name: second
    action: core.noop
    after: [first]
"""


def _submit(api: Api, who: Persona, **body: Any) -> dict[str, Any]:
    reply = requests.post(f"{api.url}/v1/jobs", json=body or {"definition": TWO_STEPS}, headers=who.headers,
                          timeout=30)
    assert reply.status_code == 201, reply.text
    job: dict[str, Any] = reply.json()["job"]
    return job


def _ids(api: Api, who: Persona, query: str = "") -> list[object]:
    reply = requests.get(f"{api.url}/v1/jobs?limit=1000{query}", headers=who.headers, timeout=30)
    assert reply.status_code == 200, reply.text
    return [job["id"] for job in reply.json()["jobs"]]


def test_discovery_needs_no_token_and_everything_else_does(api: Api) -> None:
    """/ and /v1/openapi.json answer anyone; /v1/jobs without a token or with a bad one is 401 in JSON."""
    assert requests.get(f"{api.url}/", timeout=10).status_code == 300
    assert requests.get(f"{api.url}/v1/openapi.json", timeout=10).json()["openapi"].startswith("3.")
    for headers in ({}, {"X-Auth-Token": "not-a-token"}):
        reply = requests.get(f"{api.url}/v1/jobs", headers=headers, timeout=30)
        assert reply.status_code == 401
        assert "Keystone token" in reply.json()["error"]["message"]


def test_a_job_belongs_to_the_submitters_project(api: Api, personas: dict[str, Persona]) -> None:
    """The owner's job carries project demo, and its tasks show once it is listed."""
    owner = personas["owner"]
    job = _submit(api, owner)
    assert job["project_id"] == owner.project_id and job["state"] == "queued"
    assert job["id"] in _ids(api, owner)
    shown = requests.get(f"{api.url}/v1/jobs/{job['id']}", headers=owner.headers, timeout=30).json()["job"]
    assert shown["name"] == "api-two-steps" and shown["inputs"] == {}


def test_another_projects_user_neither_sees_nor_touches_the_job(api: Api, personas: dict[str, Persona]) -> None:
    """For a member of another project the job does not exist: absent from lists, 404 to show or act."""
    job = _submit(api, personas["owner"])
    other = personas["other"]
    assert job["id"] not in _ids(api, other)
    for method, path in (("GET", ""), ("GET", "/graph"), ("POST", "/revert"), ("POST", "/cancel")):
        reply = requests.request(method, f"{api.url}/v1/jobs/{job['id']}{path}", headers=other.headers, timeout=30)
        assert reply.status_code == 404, (path, reply.text)
    assert requests.get(f"{api.url}/v1/jobs?all_projects=true", headers=other.headers, timeout=30).status_code == 403


def test_an_admin_sees_every_project_and_acts(api: Api, personas: dict[str, Persona]) -> None:
    """Admin lists the owner's job with all_projects (not in its own project's list) and may cancel it."""
    job = _submit(api, personas["owner"])
    admin = personas["admin"]
    assert job["id"] not in _ids(api, admin)
    assert job["id"] in _ids(api, admin, "&all_projects=true")
    assert job["id"] in _ids(api, admin, f"&project_id={personas['owner'].project_id}")
    reply = requests.post(f"{api.url}/v1/jobs/{job['id']}/cancel", headers=admin.headers, timeout=30)
    assert reply.status_code == 202 and reply.json()["job"]["state"] == "cancelled"


def test_a_reader_looks_but_may_not_act_or_submit(api: Api, personas: dict[str, Persona]) -> None:
    """A reader of the project shows the job; revert and submit are 403 naming the policy rule."""
    job = _submit(api, personas["owner"])
    reader = personas["reader"]
    assert requests.get(f"{api.url}/v1/jobs/{job['id']}", headers=reader.headers, timeout=30).status_code == 200
    reply = requests.post(f"{api.url}/v1/jobs/{job['id']}/revert", headers=reader.headers, timeout=30)
    assert reply.status_code == 403 and "opsflow:jobs:act" in reply.json()["error"]["message"]
    reply = requests.post(f"{api.url}/v1/jobs", json={"definition": TWO_STEPS}, headers=reader.headers, timeout=30)
    assert reply.status_code == 403


def test_the_owner_reverts_and_cancels_their_job(api: Api, personas: dict[str, Persona]) -> None:
    """revert asks conductors (revert-requested); cancel takes it off the board."""
    owner = personas["owner"]
    job = _submit(api, owner)
    reply = requests.post(f"{api.url}/v1/jobs/{job['id']}/revert", headers=owner.headers, timeout=30)
    assert reply.status_code == 202 and reply.json()["job"]["state"] == "revert-requested"
    reply = requests.post(f"{api.url}/v1/jobs/{job['id']}/cancel", headers=owner.headers, timeout=30)
    assert reply.status_code == 202
    assert job["id"] not in _ids(api, owner)


def test_paging_walks_every_job_once(api: Api, personas: dict[str, Persona]) -> None:
    """limit=2 pages through the owner's jobs by marker; next links end on the last page."""
    owner = personas["owner"]
    for _ in range(3):
        _submit(api, owner)
    everything = _ids(api, owner)
    seen: list[object] = []
    url: str | None = f"{api.url}/v1/jobs?limit=2"
    while url:
        page = requests.get(url, headers=owner.headers, timeout=30).json()
        assert len(page["jobs"]) <= 2
        seen += [job["id"] for job in page["jobs"]]
        url = f"{api.url}{page['links'][0]['href']}" if page["links"] else None
    assert seen == everything


def test_errors_name_the_problem(api: Api, personas: dict[str, Persona]) -> None:
    """A bad definition is 422 with file:line:col, unknown flow 404, bad JSON 400, a wrong method 405."""
    owner = personas["owner"]
    bad = "name: x\ntasks:\n  - name: a\n    action: core.nosuch\n"
    reply = requests.post(f"{api.url}/v1/jobs", json={"definition": bad}, headers=owner.headers, timeout=30)
    assert reply.status_code == 422 and reply.json()["error"]["message"].startswith("<upload>:4:")
    reply = requests.post(f"{api.url}/v1/jobs", json={"flow": "no-such-flow"}, headers=owner.headers, timeout=30)
    assert reply.status_code == 404 and "forklift" in reply.json()["error"]["message"]
    reply = requests.post(f"{api.url}/v1/jobs", data="{not json", headers={**owner.headers,
                                                                          "Content-Type": "application/json"},
                          timeout=30)
    assert reply.status_code == 400
    reply = requests.delete(f"{api.url}/v1/jobs", headers=owner.headers, timeout=30)
    assert reply.status_code == 405 and reply.headers["Allow"] == "GET, POST"
    reply = requests.post(f"{api.url}/v1/flows/validate", json={"definition": bad}, headers=owner.headers, timeout=30)
    assert reply.json()["valid"] is False and reply.json()["error"]["line"] == 4


def test_an_access_key_signed_request_acts_as_its_owner(api: Api, personas: dict[str, Persona],
                                                        tmp_path: Path) -> None:
    """A request signed with demo's access key (botocore's SigV4 signer) passes the API's access-key
    filter and sees exactly what demo's token sees; the same request tampered with is refused."""
    owner = personas["owner"]
    mine = _submit(api, owner)
    key = keys.create(clouds.cloud_names("source")[0], tmp_path, expires="1d")

    def signed(path: str) -> requests.PreparedRequest:
        url = f"{api.url}{path}"
        request = AWSRequest(method="GET", url=url)
        botocore.auth.SigV4Auth(Credentials(key.access, key.secret), "workflow-ops", "source").add_auth(request)
        headers = {**dict(request.headers.items()), "Host": url.split("/")[2]}
        return requests.Request("GET", url, headers=headers).prepare()

    reply = keys.send(signed("/v1/jobs?limit=1000"))
    assert reply.status_code == 200, reply.text
    assert [job["id"] for job in reply.json()["jobs"]] == _ids(api, owner) and mine["id"] in _ids(api, owner)
    tampered = signed("/v1/jobs?limit=1000")
    tampered.url = f"{api.url}/v1/jobs?limit=1000&all_projects=true"
    assert keys.send(tampered).status_code == 401
