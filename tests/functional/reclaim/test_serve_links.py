"""``opsflow reclaim serve-links`` as its own process, as an operator runs it behind the notices' links.

A sweep mails the owner a notice with a signed one-time link; the link endpoint, a separate
process sharing only the state file and the clock file, shows a button on GET (keeping nothing),
keeps on POST, and refuses the same link again; the next sweep drives the signalled run to `kept`.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from opsflow.conductor import OffsetFileClock
from opsflow.engines.records import RunState
from opsflow.engines.runner import Runner
from opsflow.reclaim import marks, operations
from opsflow.services.smtp import Capture
from opsflow.services.zookeeper import find_free_ports
from tests.functional.reclaim.conftest import Tenancy, load_policy, policy_text

pytestmark = pytest.mark.functional

OPSFLOW = str(Path(sys.executable).parent / "opsflow")


def _request(url: str, data: bytes | None = None) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=60) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_the_link_endpoint_process_keeps_once_and_the_sweep_honours_it(
        tenancy: Tenancy, mail: Capture, tmp_path: Path) -> None:
    """GET shows a button, POST keeps, a second POST is refused, and the run ends kept."""
    server = tenancy.wait(tenancy.boot(tenancy.as_alice, f"linked-{uuid.uuid4().hex[:6]}",
                                       metadata={"opsflow-sim:activity": "busy", "lease-until": "2026-01-01"}))
    port = find_free_ports(1)
    clock_file = tmp_path / "clock-offset"
    clock = OffsetFileClock(clock_file)
    state = f"sqlite:///{tmp_path}/state.db"
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(policy_text(tenancy, mail.port, link_url=f"http://127.0.0.1:{port}/"))
    rules = load_policy(tmp_path, policy_file.read_text())
    site = operations.Site(state, clock=clock)
    log = tmp_path / "serve-links.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([OPSFLOW, "reclaim", "serve-links", "--policy", str(policy_file), "--port", str(port),
                                 "--state", state, "--clock-file", str(clock_file)],
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        started = operations.scan(rules, site, clock).started
        (run_id,) = [r for r in started if server.id in _inputs_server(state, r)]
        notice = next(m for m in mail.messages(tenancy.alice.email) if m["X-Opsflow-Server"] == server.id)
        link = re.search(r"(http://\S+/keep\?t=\S+)", notice.get_content())
        assert link, notice.get_content()
        _wait_listening(port, proc, log)

        status, page = _request(link.group(1))
        assert status == 200 and "<button" in page
        assert marks.KEEP_KEY not in tenancy.server(server.id).metadata  # a GET (a mail scanner) keeps nothing

        token = urllib.parse.parse_qs(urllib.parse.urlsplit(link.group(1)).query)["t"][0]
        form = urllib.parse.urlencode({"t": token}).encode()
        status, body = _request(f"http://127.0.0.1:{port}/keep", form)
        assert status == 200 and "is kept until" in body, body
        status, body = _request(f"http://127.0.0.1:{port}/keep", form)
        assert status == 403 and "used already" in body, body

        assert operations.scan(rules, site, clock).resumed == (run_id,)
        with Runner(state) as runner:
            record = runner.record(run_id)
        assert record.state is RunState.SUCCEEDED
        assert {t.path: t.result for t in record.tasks}["record"]["outcome"] == "kept"
        assert marks.KEEP_KEY in tenancy.server(server.id).metadata
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        tenancy.admin.compute.delete_server(server, ignore_missing=True)


def _inputs_server(state: str, run_id: str) -> str:
    with Runner(state) as runner:
        return str(runner.record(run_id).inputs.get("server", ""))


def _wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve-links exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        try:
            _request(f"http://127.0.0.1:{port}/keep")
            return
        except urllib.error.URLError:
            time.sleep(0.2)
    raise AssertionError(f"serve-links did not answer on port {port} within {timeout} s")
