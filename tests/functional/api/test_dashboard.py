"""The dashboard in real headless Chromium (Debian's chromium, driven by playwright).

A user signs in through the form (a real Keystone password login), finds a job in the live job
list and watches it on its page while a conductor runs it: the graph's boxes turn from pending
through running to succeeded and the progress bar fills. A forklift-shaped job then shows the
forklift report with the server's downtime. Screenshots are kept as test artifacts
in ``$OPSFLOW_TEST_ARTIFACTS`` (default ``build/test-artifacts`` in the checkout).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.functional.api.conftest import Api, Persona

pytestmark = pytest.mark.functional

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("OPSFLOW_TEST_ARTIFACTS") or Path(__file__).resolve().parents[3] / "build/test-artifacts")
STEPS = """
name: api-dashboard-steps
tasks:
  - name: prepare
    action: core.sleep
    args: {seconds: 1.5}
  - name: work
    action: core.sleep
    args: {seconds: 1.5}
    after: [prepare]
  - name: check
    action: core.sleep
    args: {seconds: 1.5}
    after: [work]
  - name: finish
    action: core.noop
    after: [check]
"""

#: A forklift run's shape without clouds: the report reads what read, stop_source, copy and verify returned.
FORKLIFT_REHEARSAL = """
name: forklift-rehearsal
tasks:
  - name: read
    action: core.echo
    args: {message: {name: web-1}}
  - name: stop_source
    action: core.echo
    args: {message: {at: 1000.0}}
    after: [read]
  - name: copy
    action: core.echo
    args: {message: {bytes_sent: 1048576}}
    after: [stop_source]
  - name: verify
    action: core.echo
    args: {message: {at: 1012.5}}
    after: [copy]
"""


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (tools/install-services)")
def test_sign_in_and_watch_a_job_run_to_done(api: Api, personas: dict[str, Persona],
                                             conductor: Callable[[], Any]) -> None:
    """Sign in, see the job listed live, and watch its page until every task is done."""
    from playwright.sync_api import expect, sync_playwright

    owner = personas["owner"]
    reply = requests.post(f"{api.url}/v1/jobs", json={"definition": STEPS}, headers=owner.headers, timeout=30)
    assert reply.status_code == 201, reply.text
    job_id = reply.json()["job"]["id"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 700})
            page.goto(f"{api.url}/dashboard/jobs")
            expect(page.locator("h1")).to_have_text("Sign in")  # not signed in yet: the form
            owner.sign_in(page)
            row = page.locator(f'#jobs tr[data-job="{job_id}"]')
            expect(row).to_have_attribute("data-state", "queued")
            page.screenshot(path=str(ARTIFACTS / "dashboard-jobs.png"), full_page=True)
            row.locator("a").click()
            expect(page.locator("#graph svg")).to_be_visible()
            conductor()
            expect(page.locator("#job")).to_have_attribute("data-state", "running", timeout=60_000)
            expect(page.locator('#graph g[data-task="prepare"]')).to_have_attribute("data-state", "running",
                                                                                  timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "dashboard-job-running.png"), full_page=True)
            expect(page.locator('#graph g[data-task="work"]')).to_have_attribute("data-state", "running",
                                                                               timeout=30_000)
            expect(page.locator("#job")).to_have_attribute("data-state", "succeeded", timeout=60_000)
            expect(page.locator('#graph g[data-task="finish"]')).to_have_attribute("data-state", "succeeded")
            expect(page.locator("#job-progress")).to_contain_text("4 of 4 tasks done")
            page.screenshot(path=str(ARTIFACTS / "dashboard-job-done.png"), full_page=True)

            reply = requests.post(f"{api.url}/v1/jobs", json={"definition": FORKLIFT_REHEARSAL},
                                  headers=owner.headers, timeout=30)
            page.goto(f"{api.url}/dashboard/jobs/{reply.json()['job']['id']}")
            expect(page.locator("#job")).to_have_attribute("data-state", "succeeded", timeout=60_000)
            server = page.locator('#servers tr[data-server="web-1"]')
            expect(server).to_contain_text("moved")
            expect(server.locator("td").nth(2)).to_have_text("12.50")  # downtime: stop_source to verify
            page.screenshot(path=str(ARTIFACTS / "dashboard-forklift-report.png"), full_page=True)
        finally:
            browser.close()
