"""How cheaply reclaim's sweep finds candidates among many servers, and how fast it starts their runs.

Measured in one run on the simulated cloud (``opsflow devcloud up``), on a project of the
benchmark's own holding ``--servers`` servers (default 520: ``--active`` of them ACTIVE with an
expired lease, the rest boot failures in ERROR -- a flavor no hypervisor can hold, so the scheduler
fails them without a compute spending seconds on each; kept between runs, so a second run boots
nothing):

* **scan**: reclaim's sweep (one paged ``/servers/detail?all_tenants`` listing, Keystone's users
  and projects, diagnostics only for idle short-listed servers) against a naive sweep that lists
  server ids and then asks about each server, its owner and its project -- the wire's HTTP
  requests counted on both sides (token requests included) and the wall time of each;
* **start**: reclaim runs started per second by ``sweep.start`` (a claim per server and cycle in
  the audit store, then the run stored with its inputs) against bare ``Runner.create`` of the same
  runs without the claim, on SQLite state: what never starting two runs for one server costs.

Run: ``python benchmarks/reclaim.py [--servers 520] [--active 20]`` with ``OPSFLOW_DEVCLOUD_HOME``
and ``OPSFLOW_DEVCLOUD_PORT_BASE`` naming the cloud. The last line is the summary.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from typing import Any

import openstack

from opsflow import clouds as sdk_clouds
from opsflow.devcloud import bringup, clouds, configs, seed
from opsflow.devcloud.layout import Layout
from opsflow.engines.runner import Runner
from opsflow.flows import loader, resolver
from opsflow.reclaim import policy as policies, sweep
from opsflow.reclaim.audit import open_store
from opsflow.reclaim.inventory import Inventory
from opsflow.tasks.base import SystemClock

_SOURCE, ADMIN = clouds.cloud_names("source")
PROJECT = "reclaim-bench"
#: Servers per multi-create request.
BATCH = 40
#: A flavor no simulated hypervisor can hold: its boots fail in the scheduler (ERROR, never ACTIVE).
HUGE = "reclaim-bench-huge"


def _project(admin: Any) -> Any:
    project = admin.identity.find_project(PROJECT, domain_id="default")
    if project is None:
        project = admin.identity.create_project(name=PROJECT, domain_id="default")
    for role in ("admin", "member"):
        admin.identity.assign_project_role_to_user(project, admin.identity.find_user("admin", ignore_missing=False),
                                                   admin.identity.find_role(role, ignore_missing=False))
    admin.set_compute_quotas(project.id, instances=-1, cores=-1, ram=-1)
    admin.set_network_quotas(project.id, port=-1)
    return project


def _huge_flavor(admin: Any) -> str:
    found = admin.compute.find_flavor(HUGE, ignore_missing=True)
    if found is None:
        found = admin.compute.create_flavor(name=HUGE, vcpus=4096, ram=512, disk=1, is_public=True)
    return str(found.id)


def _boot(admin: Any, project: Any, total: int, active: int) -> None:
    """Boot what is missing: failures first, then ACTIVE ones."""
    conn = sdk_clouds.project_connection(ADMIN, project.id)
    image, tiny = seed.image_id(admin), admin.compute.find_flavor("m1.tiny", ignore_missing=False).id
    huge = _huge_flavor(admin)
    network = admin.network.find_network(seed.NETWORK_NAME, ignore_missing=False).id
    have = list(admin.compute.servers(all_projects=True, project_id=project.id))
    have_active = sum(1 for s in have if s.name.startswith("bench-active"))
    have_failed = len(have) - have_active
    wanted = [("bench-failed", total - active - have_failed, huge, {}),
              ("bench-active", active - have_active, tiny, {"opsflow-sim:activity": "busy", "lease-until": "2026-01-01"})]
    for name, missing, flavor, metadata in wanted:
        while missing > 0:
            count = min(BATCH, missing)
            conn.compute.post("/servers", json={"server": {
                "name": name, "imageRef": image, "flavorRef": flavor, "networks": [{"uuid": network}],
                "metadata": metadata, "min_count": count, "max_count": count}})
            missing -= count
            _settle(admin, project)
    print(f"servers: {len(list(admin.compute.servers(all_projects=True, project_id=project.id)))} in {PROJECT}",
          flush=True)


def _settle(admin: Any, project: Any, timeout: float = 1200.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            listed = list(admin.compute.servers(all_projects=True, project_id=project.id))
        except openstack.exceptions.HttpException as exc:  # nova-api busy behind neutron: look again
            print(f"(listing failed: {exc}; again)", flush=True)
            time.sleep(5)
            continue
        if not any(s.status == "BUILD" for s in listed):
            return
        time.sleep(2)
    raise SystemExit(f"servers still building after {timeout:.0f} s")


def _policy(project: Any) -> policies.Policy:
    return policies.load_text(f"""
cloud: {ADMIN}
where: {{projects: [{project.name}]}}
detectors:
  boot_failure: {{after: 0s}}
  owner_disabled: {{}}
  idle: {{days: 14}}
  expired: {{key: lease-until}}
""", "<benchmark>")


def _naive(cloud: str, project_id: str) -> tuple[int, float, int]:
    """A sweep that asks per server: list ids, then GET each server, its user and its project."""
    conn = sdk_clouds.connect(cloud)
    calls = 0

    def count(response: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return response

    hooks = conn.session.session.hooks["response"]
    hooks.append(count)
    started = time.perf_counter()
    try:
        found = 0
        ids = conn.compute.get("/servers", params={"all_tenants": 1, "project_id": project_id,
                                                   "limit": 1000}).json()["servers"]
        for entry in ids:
            server = conn.compute.get(f"/servers/{entry['id']}", microversion="2.79").json()["server"]
            conn.identity.get(f"/users/{server['user_id']}")
            conn.identity.get(f"/projects/{server['tenant_id']}")
            found += 1
    finally:
        hooks.remove(count)
    return calls, time.perf_counter() - started, found


def _start_rates(rules: policies.Policy, found: sweep.Sweep) -> tuple[float, float, int]:
    definition = loader.load_file(os.path.join(resolver.BUILTIN_DIR, "reclaim.yaml"))
    with tempfile.TemporaryDirectory() as tmp:
        state = f"sqlite:///{tmp}/claimed.db"
        with Runner(state) as runner, open_store(state) as store:
            began = time.perf_counter()
            started = sweep.start(rules, found, runner, store, time.time())
            claimed = len(started) / (time.perf_counter() - began)
            again = sweep.start(rules, sweep.evaluate(rules, _Frozen(found), store, time.time()), runner, store,
                                time.time())
            assert again == [], "a second sweep started runs again"
        bare_state = f"sqlite:///{tmp}/bare.db"
        with Runner(bare_state) as runner:
            began = time.perf_counter()
            for candidate in found.candidates:
                runner.create(definition, sweep.run_inputs(rules, candidate, bare_state))
            bare = len(found.candidates) / (time.perf_counter() - began)
    return claimed, bare, len(started)


class _Frozen(Inventory):
    """The inventory the first sweep read, again (the second sweep's cloud has not changed)."""

    def __init__(self, found: sweep.Sweep) -> None:
        super().__init__(ADMIN)
        self.servers = [c.server for c in found.candidates]
        self.users = {c.owner.id: c.owner for c in found.candidates if c.owner is not None}
        self.projects = {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=520)
    parser.add_argument("--active", type=int, default=20, help="ACTIVE ones (each a real boot on a simulated host)")
    args = parser.parse_args()
    layout = Layout.default()
    bringup.up(layout, configs.SimSettings())
    os.environ["OS_CLIENT_CONFIG_FILE"] = str(layout.clouds_yaml)
    admin = openstack.connect(cloud=ADMIN)
    project = _project(admin)
    _boot(admin, project, args.servers, args.active)
    rules = _policy(project)

    sdk_clouds.connect(ADMIN)  # authenticate before counting on both sides
    began = time.perf_counter()
    inventory = Inventory(ADMIN).read()
    with tempfile.TemporaryDirectory() as tmp, open_store(f"sqlite:///{tmp}/scan.db") as store:
        found = sweep.evaluate(rules, inventory, store, SystemClock().now())
    scan_s = time.perf_counter() - began
    servers = sum(1 for s in inventory.servers if s.project_id == project.id)
    print(f"reclaim scan: {len(inventory.servers)} servers listed ({servers} in {PROJECT}), "
          f"{len(found.candidates)} candidates, {inventory.calls} calls ({inventory.diagnostics_calls} diagnostics), "
          f"{scan_s:.2f} s", flush=True)
    naive_calls, naive_s, naive_found = _naive(ADMIN, project.id)
    print(f"naive scan: {naive_found} servers, {naive_calls} calls, {naive_s:.2f} s", flush=True)
    claimed, bare, started = _start_rates(rules, found)
    print(f"start: {started} runs, {claimed:.1f} runs/s with claims, {bare:.1f} runs/s bare create", flush=True)
    load = os.getloadavg()[0]
    per_100 = 100 * inventory.calls / max(1, len(inventory.servers))
    print(f"servers: {len(inventory.servers)}, scan_calls: {inventory.calls}, calls_per_100_servers: {per_100:.2f}, "
          f"naive_calls: {naive_calls}, scan_s: {scan_s:.2f}, naive_s: {naive_s:.2f}, "
          f"speedup: {naive_s / scan_s:.1f}, runs_per_s: {claimed:.1f}, bare_runs_per_s: {bare:.1f}, "
          f"load: {load:.1f}")


if __name__ == "__main__":
    main()
