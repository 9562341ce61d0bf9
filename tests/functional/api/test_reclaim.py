"""Reclaim through the service API and the dashboard, on a real reclaim run driven by a conductor.

A server of project demo is tagged for reclaim; a sweep posts its run on the API's jobboard and a
conductor takes it to its notice wait. Then, with real Keystone tokens: another project's user
does not see the server at all, a reader of demo sees it but may not keep it, and its owner keeps
it from the dashboard's button in real headless Chromium — the run ends `kept`, the server stays,
and a second keep is refused because nothing is pending any more.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openstack
import pytest
import requests

from opsflow.devcloud import clouds
from opsflow.reclaim import marks, operations, policy
from opsflow.tasks.base import SystemClock
from tests.fixtures import eventually
from tests.functional.api.conftest import Api, Persona
from tests.functional.api.test_dashboard import ARTIFACTS, CHROMIUM

pytestmark = pytest.mark.functional

SOURCE_ADMIN = clouds.cloud_names("source")[1]


def tag_policy(tmp_path: Path, tag: str) -> policy.Policy:
    """Reclaim demo's servers that carry ``tag``: notice 7 days, then delete."""
    path = tmp_path / "policy.yaml"
    path.write_text(f"""
cloud: {SOURCE_ADMIN}
where: {{projects: [demo]}}
detectors:
  tagged: {{tag: {tag}}}
stages: {{notice: 7d, final: 2d}}
action: delete
""")
    return policy.load_file(path)


def _listed(api: Api, persona: Persona, server_id: str) -> dict[str, Any] | None:
    reply = requests.get(f"{api.url}/v1/reclaim/servers", headers=persona.headers, timeout=30)
    assert reply.status_code == 200, reply.text
    return next((s for s in reply.json()["servers"] if s["server"] == server_id), None)


def _keep(api: Api, persona: Persona, server_id: str, body: Any = None) -> requests.Response:
    return requests.post(f"{api.url}/v1/reclaim/servers/{server_id}/keep", json={"days": 10} if body is None else body,
                         headers=persona.headers, timeout=60)


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (tools/install-services)")
def test_owners_see_and_keep_their_own_servers_only(api: Api, personas: dict[str, Persona], tagged_server: Any,
                                                    conductor: Callable[[], Any], tmp_path: Path) -> None:
    """Only demo's people see its server's cycle; a reader cannot keep it; the owner keeps it from the page."""
    from playwright.sync_api import expect, sync_playwright

    server_id = tagged_server.id
    rules = tag_policy(tmp_path, tagged_server.tags[0])
    scanned = operations.scan(rules, operations.Site("", zookeeper=api.zookeeper), SystemClock())
    assert [c.server.id for c in scanned.sweep.candidates] == [server_id] and len(scanned.started) == 1
    conductor()
    owner, reader, other = personas["owner"], personas["reader"], personas["other"]
    listed = eventually(lambda: (s := _listed(api, owner, server_id)) and s["state"].startswith("waiting") and s,
                        120, "the run in its notice wait")
    assert listed["project_id"] == owner.project_id and listed["deadline"] and "tagged" in listed["reasons"]

    assert _listed(api, other, server_id) is None
    assert _keep(api, other, server_id).status_code == 404
    assert _listed(api, reader, server_id) is not None
    assert _keep(api, reader, server_id).status_code == 403
    assert _keep(api, owner, server_id, {"days": 0}).status_code == 400
    shown = requests.get(f"{api.url}/v1/reclaim/servers/{server_id}", headers=reader.headers, timeout=30).json()
    assert [e["action"] for e in shown["server"]["events"]][:2] == ["picked", "marked"]

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 700})
            page.goto(f"{api.url}/dashboard/reclaim")
            owner.sign_in(page)
            page.goto(f"{api.url}/dashboard/reclaim")
            row = page.locator(f'#reclaim tr[data-server="{server_id}"]')
            expect(row).to_contain_text("tagged", timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "dashboard-reclaim.png"), full_page=True)
            row.locator("button.keep").click()
            expect(page.locator("#reclaim-message")).to_contain_text(f"server {server_id} is kept until",
                                                                     timeout=60_000)  # nova and the board, then the page
            expect(row).to_have_attribute("data-state", "ended", timeout=120_000)
            page.screenshot(path=str(ARTIFACTS / "dashboard-reclaim-kept.png"), full_page=True)
        finally:
            browser.close()

    ended = _listed(api, owner, server_id)
    assert ended is not None and ended["kept_until"] and ended["last"] == "ended-kept", ended
    admin = openstack.connect(cloud=SOURCE_ADMIN)
    try:
        server = admin.compute.get_server(server_id)
        assert server.status == "ACTIVE" and marks.KEEP_KEY in server.metadata
    finally:
        admin.close()
    refused = _keep(api, owner, server_id)
    assert refused.status_code == 409 and "has ended" in refused.json()["error"]["message"]
