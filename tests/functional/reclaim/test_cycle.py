"""A whole reclaim cycle on the test clock: notices, waits, a keep honoured at every stage, the rest deleted."""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
import wsgiref.simple_server
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opsflow.engines.records import RunState
from opsflow.reclaim import keep as keeping, links, marks, operations
from opsflow.reclaim.audit import open_store
from opsflow.services.smtp import Capture
from tests.fixtures import opsflow
from tests.functional.reclaim.conftest import DAY, SOURCE_ADMIN, MovableClock, Tenancy, load_policy, policy_text

pytestmark = pytest.mark.functional


class LinkServer:
    """The keep-link endpoint on a free loopback port, in a thread of the test."""

    def __init__(self, app: Any) -> None:
        self.httpd = wsgiref.simple_server.make_server("127.0.0.1", 0, app,
                                                       handler_class=_QuietHandler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def post(self, url: str) -> tuple[int, str]:
        """POST the link's token as the form does; (status, body)."""
        token = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["t"][0]
        request = urllib.request.Request(self.url + "/keep", data=urllib.parse.urlencode({"t": token}).encode())
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def servers(tenancy: Tenancy) -> Iterator[dict[str, Any]]:
    """Five expired or failed servers of alice's: three to keep at different stages, two to reclaim."""
    tag = uuid.uuid4().hex[:6]
    lease = {"opsflow-sim:activity": "busy", "lease-until": "2026-01-01"}
    made = {key: tenancy.boot(tenancy.as_alice, f"{key}-{tag}", metadata=dict(lease))
            for key in ("keep_notice", "keep_link", "keep_unsignalled", "reclaim_expired")}
    made["reclaim_error"] = tenancy.boot(tenancy.as_alice, f"reclaim_error-{tag}",
                                         metadata={"opsflow-sim:fail": "boot"})
    for key, server in made.items():
        made[key] = tenancy.wait(server, "ERROR" if key == "reclaim_error" else "ACTIVE")
    yield made
    for server in made.values():
        tenancy.admin.compute.delete_server(server, ignore_missing=True)


def _link_in(mail: Capture, to: str, server_id: str, stage: str) -> str:
    for message in mail.messages(to):
        if message["X-Opsflow-Server"] == server_id and message["X-Opsflow-Stage"] == stage:
            found = re.search(r"(http://\S+/keep\?t=\S+)", message.get_content())
            assert found, message.get_content()
            return found.group(1)
    raise AssertionError(f"no {stage} mail about {server_id} to {to}")


def _outcome(site: operations.Site, run_id: str) -> tuple[RunState, str | None]:
    with site.open() as (runner, _store, _board):
        record = runner.record(run_id)
    outputs = {t.path: t.result for t in record.tasks}
    return record.state, (outputs.get("record") or {}).get("outcome")


def test_a_full_cycle_notifies_waits_honours_keeps_at_every_stage_and_deletes_the_rest(
        tenancy: Tenancy, servers: dict[str, Any], mail: Capture, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Notice → wait → re-check → final warning → wait → decide → delete, with keeps by CLI, link and lost signal."""
    clock = MovableClock()
    state = f"sqlite:///{tmp_path}/state.db"
    site = operations.Site(state, clock=clock)
    rules = load_policy(tmp_path, policy_text(tenancy, mail.port))
    app = links.application(links.key_of(rules.link_key), operations.keeper(site, rules, clock), clock.now)
    endpoint = LinkServer(app)
    ids = {key: server.id for key, server in servers.items()}
    alice = tenancy.alice.email
    try:
        # Sweep: one run per candidate, each marked (visible in `server show`) and its owner mailed.
        first = operations.scan(rules, site, clock)
        assert {c.server.id for c in first.sweep.candidates} == set(ids.values())
        assert len(first.started) == 5
        for key, server_id in ids.items():
            if key == "reclaim_error":
                continue  # nova refuses tags and metadata in ERROR: the audit log carries its mark
            shown = tenancy.server(server_id)
            assert marks.TAG in shown.tags and shown.metadata[marks.STAGE_KEY] == "notice"
            assert shown.metadata[marks.RUN_KEY] in first.started and marks.DEADLINE_KEY in shown.metadata
        assert {m["X-Opsflow-Server"] for m in mail.messages(alice)} == set(ids.values())
        assert all(m["X-Opsflow-Stage"] == "notice" for m in mail.messages())

        # A server already in a run is not picked twice: again, and by two sweeps racing.
        assert operations.scan(rules, site, clock).started == ()
        raced: list[tuple[str, ...]] = []
        racers = [threading.Thread(target=lambda: raced.append(operations.scan(rules, site, clock, drive=False).started))
                  for _ in range(2)]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join()
        assert raced == [(), ()]

        # Stage 1 (notice wait): an operator's keep ends the run at once; an owner's keep whose signal is
        # lost is still honoured at the re-check.
        kept = operations.keep(site, SOURCE_ADMIN, servers["keep_notice"].name, 10, "operator", clock)
        with site.open() as (_runner, store, _board):
            keeping.keep(store, SOURCE_ADMIN, ids["keep_unsignalled"], 10, "owner:test", clock.now(), signal=None)
        assert operations.scan(rules, site, clock).resumed == (kept.run_id,)
        assert _outcome(site, kept.run_id) == (RunState.SUCCEEDED, "kept")
        after_keep = tenancy.server(ids["keep_notice"])
        assert marks.TAG not in after_keep.tags and marks.KEEP_KEY in after_keep.metadata
        runs = {claim.server: claim.run_id for claim in _claims(state).values()}
        assert _outcome(site, runs[ids["keep_unsignalled"]])[0] is RunState.WAITING

        # A week later: re-checks; the unsignalled keep holds; the others get the final warning.
        clock.advance(7 * DAY + 60)
        operations.scan(rules, site, clock)
        assert _outcome(site, runs[ids["keep_unsignalled"]]) == (RunState.SUCCEEDED, "kept")
        finals = {m["X-Opsflow-Server"] for m in mail.messages(alice) if m["X-Opsflow-Stage"] == "final"}
        assert finals == {ids["keep_link"], ids["reclaim_expired"], ids["reclaim_error"]}
        assert tenancy.server(ids["reclaim_expired"]).metadata[marks.STAGE_KEY] == "final"

        # Stage 2 (final wait): the owner keeps through the signed link in the final warning; it works once.
        link = _link_in(mail, alice, ids["keep_link"], "final")
        status, body = endpoint.post(link)
        assert status == 200 and "is kept until" in body
        status, body = endpoint.post(link)
        assert status == 403 and "used already" in body
        forged = link[:-3] + ("000" if not link.endswith("000") else "111")
        status, body = endpoint.post(forged)
        assert status == 403 and "signature does not match" in body
        expired = links.new_link(links.key_of(rules.link_key), ids["reclaim_expired"], "", 30, clock.now() - 1)
        status, body = endpoint.post(f"{endpoint.url}/keep?t={expired}")
        assert status == 403 and "expired" in body
        operations.scan(rules, site, clock)
        assert _outcome(site, runs[ids["keep_link"]]) == (RunState.SUCCEEDED, "kept")

        # Two days later: the rest is deleted, and its cycle ends.
        clock.advance(2 * DAY + 60)
        operations.scan(rules, site, clock)
        for key in ("reclaim_expired", "reclaim_error"):
            assert _outcome(site, runs[ids[key]]) == (RunState.SUCCEEDED, "deleted")
            assert tenancy.server(ids[key]) is None
        for key in ("keep_notice", "keep_link", "keep_unsignalled"):
            assert tenancy.server(ids[key]).status == "ACTIVE"
        assert all(claim.closed for claim in _claims(state).values())
        assert operations.scan(rules, site, clock).started == ()  # kept ones stay out while their keep holds

        # The audit log tells who did what, why and when.
        code, out, _err = opsflow(capsys, "reclaim", "audit", ids["keep_link"], "--state", state, "-f", "json")
        actions = [row["action"] for row in json.loads(out)]
        assert code == 0 and actions[:3] == ["picked", "marked", "notified"] and "kept" in actions
        assert [row["who"] for row in json.loads(out) if row["action"] == "kept"] == ["owner:link"]
        code, out, _err = opsflow(capsys, "reclaim", "audit", ids["reclaim_error"], "--state", state, "-f", "json",
                                  "-c", "action")
        assert [row["action"] for row in json.loads(out)][-3:] == [
            "notified", "recheck-act", "ended-deleted"]
    finally:
        endpoint.close()


def _claims(state: str) -> dict[str, Any]:
    with open_store(state) as store:
        return store.claims()
