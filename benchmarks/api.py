"""The service API's job list and show with 1,000 jobs on the board, against reading the board directly.

One run, real services: a ZooKeeper of its own (started here), the simulated cloud's Keystone for
tokens (``opsflow devcloud up`` first, with the same ``OPSFLOW_DEVCLOUD_*`` variables), and
``opsflow api serve`` as its own process with the full pipeline (``auth_token`` validating a real
token; keystonemiddleware caches it after the first request, as in production). 1,000 jobs of a
two-task flow are posted, unclaimed, into project demo.

Side by side:

* **API list** -- ``GET /v1/jobs?limit=100`` (one page) and ``?limit=1000`` (every job), HTTP;
* **direct list** -- what ``opsflow jobs list`` does: :func:`opsflow.jobs.views` over the whole
  board (entries, holds, and each job's stored run) in this process;
* **API show** -- ``GET /v1/jobs/ID``, random jobs;
* **direct show** -- :func:`opsflow.jobs.view` (``opsflow jobs show``'s read), the same jobs.

Requests per second (one client thread, requests in sequence) and p50/p99 latency per side.

    python benchmarks/api.py [--jobs 1000] [--requests 50]
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from opsflow import jobs
from opsflow.api import pipeline
from opsflow.api.ownership import Owner, Owners
from opsflow.devcloud import layout as lay
from opsflow.devcloud import opsflow_api
from opsflow.engines.jobboard import Address, JobBoard
from opsflow.engines.runner import Runner
from opsflow.flows import loader
from opsflow.services import zookeeper

FLOW = """
name: bench-two-steps
tasks:
  - name: first
    action: core.noop
  - name: second
    action: core.noop
    after: [first]
"""


def _timed(call: Callable[[], Any], count: int) -> tuple[float, float, float]:
    """(requests/s, p50 ms, p99 ms) of ``count`` calls in sequence."""
    took = []
    started = time.perf_counter()
    for _ in range(count):
        t0 = time.perf_counter()
        call()
        took.append((time.perf_counter() - t0) * 1000)
    total = time.perf_counter() - started
    cuts = statistics.quantiles(took, n=100, method="inclusive") if len(took) > 1 else took * 99
    return count / total, statistics.median(took), cuts[98]


def _token(layout: lay.Layout) -> tuple[str, str]:
    body: dict[str, Any] = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "demo", "password": lay.DEMO_PASSWORD, "domain": {"name": "Default"}}}},
        "scope": {"project": {"name": "demo", "domain": {"name": "Default"}}}}}
    reply = requests.post(f"{layout.auth_url}/auth/tokens", json=body, timeout=30)
    reply.raise_for_status()
    return str(reply.headers["X-Subject-Token"]), str(reply.json()["token"]["project"]["id"])


def main() -> None:
    """Post the jobs, measure both sides, print the table and the summary line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=50, help="requests per measured operation")
    args = parser.parse_args()
    layout = lay.Layout.default()
    token, project_id = _token(layout)
    with tempfile.TemporaryDirectory(prefix="opsflow-bench-api-") as work, zookeeper.serving(work) as hosts:
        address = Address.parse(f"{hosts}/bench")
        definition = loader.load_text(FLOW)
        started = time.perf_counter()
        with JobBoard(address) as board, Runner(address.state_url) as runner:
            owners = Owners(board, runner)
            ids = []
            for _ in range(args.jobs):
                run_id = runner.create(definition, {})
                owners.record(run_id, Owner(project_id, "bench"))
                board.post(run_id, definition.name, time.time())
                ids.append(run_id)
        print(f"posted {args.jobs} jobs in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        paste = Path(work) / "api-paste.ini"
        paste.write_text(pipeline.paste_ini(pipeline.PasteSettings(
            zookeeper=str(address), auth_url=layout.auth_url, username=opsflow_api.SERVICE_USER,
            password=lay.SERVICE_PASSWORD)))
        port = zookeeper.find_free_ports(1)
        opsflow = str(Path(sys.executable).parent / "opsflow")
        with open(Path(work) / "api.log", "wb") as log:
            proc = subprocess.Popen([opsflow, "api", "serve", "--paste", str(paste), "--port", str(port)],
                                    stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            session = requests.Session()
            session.headers["X-Auth-Token"] = token
            deadline = time.monotonic() + 120
            while True:
                try:
                    requests.get(f"{url}/", timeout=10)
                    break
                except requests.ConnectionError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("opsflow api did not come up:\n" + (Path(work) / "api.log").read_text()[-3000:])
                time.sleep(0.2)
            warm = session.get(f"{url}/v1/jobs?limit=1", timeout=120)  # the token's first check, the board's first read
            assert warm.status_code == 200, warm.text
            picks = random.Random(7).choices(ids, k=args.requests)
            cursor = iter(picks * 2)

            def api_page() -> None:
                assert len(session.get(f"{url}/v1/jobs?limit=100", timeout=60).json()["jobs"]) == 100

            def api_all() -> None:
                assert len(session.get(f"{url}/v1/jobs?limit=1000", timeout=120).json()["jobs"]) == min(args.jobs, 1000)

            def api_show() -> None:
                assert session.get(f"{url}/v1/jobs/{next(cursor)}", timeout=30).status_code == 200

            results = {"api list (page of 100)": _timed(api_page, args.requests),
                       "api list (all)": _timed(api_all, max(3, args.requests // 10)),
                       "api show": _timed(api_show, args.requests)}
            with JobBoard(address) as board, Runner(address.state_url) as runner:
                direct = iter(picks * 2)
                results["direct list (all, jobs list)"] = _timed(lambda: jobs.views(board, runner),
                                                                 max(3, args.requests // 10))
                results["direct show (jobs show)"] = _timed(lambda: jobs.view(board, runner, next(direct)),
                                                            args.requests)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    print(f"{'operation':32} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for name, (rate, p50, p99) in results.items():
        print(f"{name:32} {rate:8.1f} {p50:8.1f} {p99:8.1f}")
    page, every, show = results["api list (page of 100)"], results["api list (all)"], results["api show"]
    d_list, d_show = results["direct list (all, jobs list)"], results["direct show (jobs show)"]
    print(f"jobs: {args.jobs}, api_list_page_rps: {page[0]:.1f}, api_list_page_p99_ms: {page[2]:.1f}, "
          f"api_list_all_rps: {every[0]:.2f}, direct_list_all_rps: {d_list[0]:.2f}, "
          f"api_show_rps: {show[0]:.1f}, api_show_p99_ms: {show[2]:.1f}, direct_show_rps: {d_show[0]:.1f}, "
          f"direct_show_p99_ms: {d_show[2]:.1f}, list_all_api_over_direct: {d_list[0] and every[0] / d_list[0]:.2f}")


if __name__ == "__main__":
    main()
