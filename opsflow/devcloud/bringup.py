"""``up``, ``down`` and ``status`` of the simulated cloud.

``up`` compares a fingerprint of everything that shapes the cloud (configs, pins, checkout, number
of simulated hypervisors) with the one recorded by the last bring-up:

* same fingerprint and every process healthy: nothing to do (a second ``up`` takes a second);
* same fingerprint, some processes gone or the project code they load changed (or their command
  line, e.g. the number of simulated hypervisors): restart those processes, keep the data;
* anything else, including nothing running at all (a new session, a CI run): rebuild from nothing
  (stop, drop databases, wipe state -- the broker's data with it --, start, seed).

The order follows shared/TESTBED.md: Keystone first, database schemas while it starts, the catalog,
then the APIs and the conductor/scheduler, and only then the simulated hypervisors.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import hashlib
import json
import logging
import math
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import keystoneauth1.exceptions
import openstack

from opsflow.devcloud import auth, broker, clouds, configs, hostaccess, infra, objectstore, procs, scheduler_modes, seed
from opsflow.devcloud import opsflow_api
from opsflow.devcloud import layout as lay
from opsflow.devcloud import venv as services_venv
from opsflow.devcloud.errors import BringUpFailed

__all__ = ["Row", "down", "plan", "resize", "settings", "status", "up"]

LOG = logging.getLogger(__name__)
T = TypeVar("T")

_WSGI = {
    "keystone": "keystone.wsgi.api",
    "placement": "placement.wsgi.api",
    "nova-api": "nova.wsgi.osapi_compute",
    "neutron": "neutron.wsgi.api",
    "glance": "glance.wsgi.api",
}


@dataclass(frozen=True)
class Row:
    """One line of ``status``."""

    name: str
    region: str
    port: int
    pid: int | None
    health: str
    log: Path


#: Simulated hypervisors per compute process: one interpreter is one core, and at 300 hosts the
#: process was what limited start-up and heartbeats; more hosts are shared over forked workers.
HOSTS_PER_PROCESS = 200


#: oslo.messaging's ``rpc_response_timeout`` (the devcloud keeps nova's 60 s): how long a
#: hypervisor's heartbeat lost in a conductor restart holds up the next one.
RPC_TIMEOUT = 60


#: Most nova-conductor processes a region runs (``SimSettings.conductors``).
MAX_CONDUCTORS = 4
#: What :mod:`opsflow.plugins.nova.control` logs once its services started (its ``READY``).
NOVA_READY = "opsflow: nova services started"


def conductor_names(region: str, conductors: int) -> list[str]:
    """The processes of ``region``'s conductors beyond the first (which shares ``<region>-nova-control``)."""
    if not 1 <= conductors <= MAX_CONDUCTORS:
        raise BringUpFailed("nova-conductor", f"{conductors} conductors per region is outside 1..{MAX_CONDUCTORS}")
    return [f"{region}-nova-conductor-{n}" for n in range(2, conductors + 1)]


def compute_processes(hosts: int) -> int:
    """How many processes a region's ``hosts`` simulated hypervisors run in."""
    return max(1, math.ceil(hosts / HOSTS_PER_PROCESS))


def compute_wait(hosts: int) -> float:
    """Seconds to wait for ``hosts`` simulated hypervisors to start, then to report up in nova.

    Start-up is paced (waves of :data:`opsflow.plugins.nova.host.WAVE`): 2.1 s per host measured
    on this 2-core machine at load average 20 (50 hosts in 106 s; at 1 s per host a 100-host
    ``up`` timed out with 80 up). Two minutes plus 2.5 s per host, so a loaded machine is not
    taken for a broken cloud; a compute process that dies still fails at once.
    """
    return 120.0 + 2.5 * hosts


def _pastes(venv: Path) -> dict[str, str]:
    etc = venv / "etc"
    return {"nova": (etc / "nova" / "api-paste.ini").read_text(),
            "neutron": (etc / "neutron" / "api-paste.ini").read_text(),
            "glance": (etc / "glance" / "glance-api-paste.ini").read_text()}


def _gunicorn(venv: Path, name: str, region: str, app: str, port: int, env: dict[str, str],
              health_path: str) -> procs.Proc:
    argv = [str(venv / "bin" / "gunicorn"), "--no-control-socket", "--workers", "1", "--threads", "4",
            "--bind", f"127.0.0.1:{port}", "--timeout", "300", "--graceful-timeout", "5",
            # gunicorn closes idle keep-alive connections after 2 s by default, racing clients that
            # poll every 2 s ("Remote end closed connection without response")
            "--keep-alive", "75",
            # nova asks neutron for the ports of 150 servers per request when it lists servers: a
            # 5.8 KB request line that gunicorn's default 4094-byte limit refuses (nova then answers
            # 500 to any listing of more than ~100 servers); 8190 is gunicorn's largest bound
            "--limit-request-line", "8190",
            "--name", name, "opsflow.devcloud.wsgi:application"]
    return procs.Proc(name=name, region=region, argv=argv, port=port,
                      env={"OPSFLOW_WSGI_APP": _WSGI[app], **env},
                      health_url=f"http://127.0.0.1:{port}{health_path}")


def plan(layout: lay.Layout, venv: Path, sim: configs.SimSettings) -> list[procs.Proc]:
    """Every process of the simulated cloud, in start order."""
    py = str(venv / "bin" / "python")
    out = [broker.process(layout), _gunicorn(venv, "keystone", "", "keystone", layout.keystone_port,
                     {"OS_KEYSTONE_CONFIG_FILES": str(layout.keystone_dir / "keystone.conf"),
                      "OPSFLOW_WSGI_MIDDLEWARE": auth.KEYSTONE_MIDDLEWARE}, "/v3")]
    for region in layout.regions():
        r = region.name
        nova_dir = region.root / "nova"
        out += [
            _gunicorn(venv, f"{r}-placement", r, "placement", region.placement_port,
                      {"OS_PLACEMENT_CONFIG_DIR": str(region.root / "placement")}, "/"),
            _gunicorn(venv, f"{r}-neutron", r, "neutron", region.neutron_port,
                      {"OS_NEUTRON_CONFIG_DIR": str(region.root / "neutron")}, "/"),
            _gunicorn(venv, f"{r}-glance", r, "glance", region.glance_port,
                      {"OS_GLANCE_CONFIG_DIR": str(region.root / "glance")}, "/versions"),
            _gunicorn(venv, f"{r}-nova-api", r, "nova-api", region.nova_port,
                      {"OS_NOVA_CONFIG_DIR": str(nova_dir)}, "/"),
            procs.Proc(name=f"{r}-nova-control", region=r,
                       argv=[py, "-m", "opsflow.plugins.nova.control",
                             "--config-file", str(nova_dir / "nova.conf"),
                             "--config-file", str(scheduler_modes.overlay(region, sim.scheduler))],
                       ready_text=NOVA_READY),
            *[procs.Proc(name=name, region=r,
                         argv=[py, "-m", "opsflow.plugins.nova.conductor", "--config-file", str(nova_dir / "nova.conf")],
                         ready_text=NOVA_READY) for name in conductor_names(r, sim.conductors)],
            procs.Proc(name=f"{r}-compute", region=r,
                       argv=[py, "-m", "opsflow.plugins.nova.host",
                             "--config-file", str(nova_dir / "nova-compute.conf"),
                             "--prefix", region.host_prefix, "--count", str(sim.computes_in(r)),
                             "--processes", str(compute_processes(sim.computes_in(r)))],
                       ready_text="simulated hypervisor(s) started", timeout=compute_wait(sim.computes_in(r))),
            hostaccess.process(region),
        ]
    out += opsflow_api.processes(layout)
    return out


def _config_fingerprint(venv: Path, files: dict[Path, str], sim: configs.SimSettings) -> str:
    """Changes whenever the cloud must be rebuilt from nothing."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(f"{path}\n{files[path]}\n".encode())
    # the number of simulated hypervisors and the scheduler mode are not in here: changing them
    # restarts only the computes or the scheduler
    unshaped = dataclasses.replace(sim, computes=0, destination_computes=None,
                                   scheduler=scheduler_modes.SchedulerMode.DEVCLOUD)
    digest.update(f"{venv}\n{unshaped}\n".encode())
    return digest.hexdigest()


def _code_fingerprints(processes: Sequence[procs.Proc]) -> dict[str, str]:
    """Per process, a hash of its command line and of the project's code it loads.

    A change restarts only the processes it concerns (new plugin code, more simulated hypervisors).
    """
    root = Path(__file__).resolve().parents[1]

    def digest(globs: Sequence[str]) -> str:
        h = hashlib.sha256()
        for pattern in globs:
            for path in sorted(root.glob(pattern)):
                h.update(path.read_bytes())
        return h.hexdigest()

    nova, neutron, wsgi = digest(["plugins/nova/*.py"]), digest(["plugins/neutron/*.py"]), \
        digest(["devcloud/wsgi.py"])
    ssh = digest(["services/sshd.py", "devcloud/hostaccess.py"])
    keys = digest(["plugins/keystone/*.py"])  # Keystone's middleware and nova-api's key filter
    out = {}
    for proc in processes:
        if proc.name.endswith("-sshd"):
            out[proc.name] = ssh
        elif proc.name == broker.NAME:
            out[proc.name] = digest(["devcloud/broker.py"])
        elif proc.name.endswith("-compute") or _serves_heartbeats(proc.name):
            out[proc.name] = nova
        elif proc.name.endswith("-neutron"):
            out[proc.name] = wsgi + neutron
        elif proc.name == "keystone" or proc.name.endswith("-nova-api"):
            out[proc.name] = wsgi + keys
        elif proc.name in opsflow_api.NAMES:
            out[proc.name] = digest(["api/*.py", "api/static/*", "engines/**/*.py", "jobs.py", "conductor.py"]) + keys
        else:
            out[proc.name] = wsgi
        out[proc.name] += " " + hashlib.sha256("\0".join(proc.argv).encode()).hexdigest()
    return out


def _load_state(layout: lay.Layout) -> dict[str, Any]:
    try:
        data = json.loads(layout.state_file.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _healthy(layout: lay.Layout, proc: procs.Proc) -> bool:
    if procs.alive_pid(layout.run, proc.name) is None:
        return False
    return procs.answers(proc)


def _parallel(fns: Iterable[Callable[[], T]]) -> list[T]:
    """Run ``fns`` concurrently; re-raise the first failure."""
    fns = list(fns)
    with ThreadPoolExecutor(max_workers=max(1, len(fns))) as pool:
        futures = [pool.submit(fn) for fn in fns]
        return [f.result() for f in futures]


def _manage(layout: lay.Layout, what: str, argv: Sequence[str], env: dict[str, str] | None = None) -> None:
    """Run a ``*-manage`` command; its output goes to ``<logs>/manage.log``."""
    layout.logs.mkdir(parents=True, exist_ok=True)
    log = layout.logs / "manage.log"
    with open(log, "ab") as out:
        out.write(f"\n==== {what}: {' '.join(argv)}\n".encode())
        out.flush()
        rc = subprocess.call(list(argv), stdout=out, stderr=subprocess.STDOUT,
                             env={**_base_env(), **(env or {})})
    if rc != 0:
        raise BringUpFailed(what, f"`{' '.join(Path(a).name if i == 0 else a for i, a in enumerate(argv))}` "
                            f"exited with {rc}; last lines:\n{procs.log_tail(log)}", log)


def _base_env() -> dict[str, str]:
    import os

    return dict(os.environ)


def _sync_chains(layout: lay.Layout, venv: Path,
                 region: lay.RegionLayout) -> dict[str, list[tuple[str, list[str]]]]:
    """Per service of ``region``, the schema commands to run in order before it can start."""
    bin_ = venv / "bin"
    nova_manage = [str(bin_ / "nova-manage"), "--config-file", str(region.root / "nova" / "nova.conf")]
    neutron_dir = region.root / "neutron"
    return {
        "placement": [("placement db sync", [str(bin_ / "placement-manage"), "--config-file",
                                             str(region.root / "placement" / "placement.conf"),
                                             "db", "sync"])],
        "neutron": [("neutron db upgrade", [
            str(bin_ / "neutron-db-manage"), "--config-file", str(neutron_dir / "neutron.conf"),
            "--config-file", str(neutron_dir / "plugins" / "ml2" / "ml2_conf.ini"), "upgrade", "heads"])],
        "glance": [("glance db sync", [str(bin_ / "glance-manage"), "--config-file",
                                       str(region.root / "glance" / "glance-api.conf"), "db_sync"])],
        "nova": [("nova api_db sync", [*nova_manage, "api_db", "sync"]),
                 ("nova map_cell0", [*nova_manage, "cell_v2", "map_cell0"]),
                 ("nova create_cell", [*nova_manage, "cell_v2", "create_cell", "--name", "cell1"]),
                 ("nova db sync", [*nova_manage, "db", "sync"])],
    }


def _keystone_setup(layout: lay.Layout, venv: Path) -> None:
    km = [str(venv / "bin" / "keystone-manage"), "--config-file", str(layout.keystone_dir / "keystone.conf")]
    _manage(layout, "keystone db_sync", [*km, "db_sync"])
    _manage(layout, "keystone fernet_setup", [*km, "fernet_setup", "--keystone-user", "root",
                                              "--keystone-group", "root"])
    _manage(layout, "keystone credential_setup", [*km, "credential_setup", "--keystone-user", "root",
                                                  "--keystone-group", "root"])
    _manage(layout, "keystone bootstrap", [
        *km, "bootstrap", "--bootstrap-password", lay.ADMIN_PASSWORD,
        "--bootstrap-admin-url", layout.auth_url, "--bootstrap-internal-url", layout.auth_url,
        "--bootstrap-public-url", layout.auth_url, "--bootstrap-region-id", lay.REGIONS[0]])


def _launch(layout: lay.Layout, proc: procs.Proc) -> tuple[procs.Proc, int]:
    """Start ``proc`` without waiting; return it with its log's size before the start."""
    log = layout.logs / f"{proc.name}.log"
    offset = log.stat().st_size if log.exists() else 0
    procs.start(proc, layout.run, layout.logs)
    LOG.info("started %s", proc.name)
    return proc, offset


def _wait_all(layout: lay.Layout, launched: Sequence[tuple[procs.Proc, int]]) -> None:
    _parallel([functools.partial(procs.wait_healthy, p, layout.run, layout.logs, offset)
               for p, offset in launched])


def _start(layout: lay.Layout, batch: Sequence[procs.Proc]) -> None:
    """Start ``batch`` together and wait until each is healthy."""
    _wait_all(layout, [_launch(layout, p) for p in batch])


def _stop_all(layout: lay.Layout, names: Iterable[str]) -> list[str]:
    """Stop ``names`` concurrently; return those that were running."""
    names = list(names)
    ran = _parallel([functools.partial(procs.stop, layout.run, n) for n in names])
    stopped = [n for n, r in zip(names, ran) if r]
    if stopped:
        LOG.info("stopped %s", ", ".join(stopped))
    return stopped


def _discover(layout: lay.Layout, venv: Path, region: lay.RegionLayout) -> Callable[[], None]:
    argv = [str(venv / "bin" / "nova-manage"), "--config-file", str(region.root / "nova" / "nova.conf"),
            "cell_v2", "discover_hosts"]
    return lambda: _manage(layout, f"{region.name} discover_hosts", argv)


def up(layout: lay.Layout, sim: configs.SimSettings, *, fresh: bool = False) -> str:
    """Bring the simulated cloud up (idempotent); return what was done, in a sentence."""
    started = time.monotonic()
    venv = services_venv.ensure(layout.home)
    files = configs.all_files(layout, sim, _pastes(venv))
    files.update(broker.files(layout))
    files.update(opsflow_api.files(layout))
    conf_fp = _config_fingerprint(venv, files, sim)
    processes = plan(layout, venv, sim)
    code_fp = _code_fingerprints(processes)
    state = _load_state(layout)
    healthy = {p.name: _healthy(layout, p) for p in processes}
    # With nothing left running (a new session, CI) the data may be from anyone's half-finished
    # run: rebuild from nothing rather than trust it.
    same_conf = (not fresh and state.get("config") == conf_fp and state.get("seeded") == "yes"
                 and any(healthy.values()))
    old_code = state.get("code") or {}
    swift = objectstore.cluster(layout, venv)
    swift_ok = all(swift.healthy().values())
    if same_conf and old_code == code_fp and all(healthy.values()) and swift_ok:
        _record(layout, sim, conf_fp, code_fp)  # the same shape; a cloud from older code gains its settings
        return f"the simulated cloud is already up ({time.monotonic() - started:.1f} s); nothing to do"
    if same_conf:
        # Keep the data; restart what is gone, and what loads project code that changed.
        restart = [p for p in processes
                   if old_code.get(p.name) != code_fp[p.name] or not healthy[p.name]]
        _stop_all(layout, [p.name for p in restart])
        hostaccess.prepare(layout)
        opsflow_api.prepare(layout)
        _start_phases(layout, venv, sim, restart)
        # a report recorded from now on went through the new conductors, the old ones being gone
        control_restarted = _utcnow() if any(_serves_heartbeats(p.name) for p in restart) else None
        seed.seed_catalog(layout, swift.endpoint_template)  # looks before it creates: cheap
        swift.start()  # restarts only what is down or reconfigured
        _finish(layout, venv, sim, conf_fp, code_fp, heard_since=control_restarted)
        return (f"restarted {len(restart)} process(es) in {time.monotonic() - started:.1f} s: "
                + ", ".join(p.name for p in restart))
    _stop_all(layout, _every_process_name())  # the old shape's too: it may have run more conductors
    swift.stop()
    _reset(layout)
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    layout.state_file.write_text(json.dumps({"config": conf_fp, "code": code_fp, "seeded": "no"}))
    for region in layout.regions():
        for sub in ("nova/state", "nova/locks", "neutron/locks", "glance/images", "glance/staging",
                    "glance/tasks", "glance/locks", "disks"):
            (region.root / sub).mkdir(parents=True, exist_ok=True)
    hostaccess.prepare(layout)
    broker.prepare(layout)
    LOG.info("reset databases and state (%.0f s)", time.monotonic() - started)
    by_name = {p.name: p for p in processes}
    launched: list[tuple[procs.Proc, int]] = []
    catalog_ready, keystone_done = threading.Event(), threading.Event()
    broker_ready, broker_done = threading.Event(), threading.Event()
    # the broker starts first: its Erlang VM boots while the schemas are made
    rabbit, rabbit_offset = _launch(layout, by_name[broker.NAME])

    def message_bus() -> None:
        try:
            procs.wait_healthy(rabbit, layout.run, layout.logs, rabbit_offset)
            broker_ready.set()
            LOG.info("the cloud's own RabbitMQ answers on %d (%.0f s)", layout.broker_port,
                     time.monotonic() - started)
        finally:
            broker_done.set()

    def keystone() -> None:
        try:
            _keystone_setup(layout, venv)
            ks, offset = _launch(layout, by_name["keystone"])
            procs.wait_healthy(ks, layout.run, layout.logs, offset)
            seed.seed_catalog(layout, swift.endpoint_template)
            catalog_ready.set()
            LOG.info("keystone up and its catalog seeded (%.0f s)", time.monotonic() - started)
        finally:
            keystone_done.set()

    def service(region: lay.RegionLayout, chain: str, steps: list[tuple[str, list[str]]]) -> None:
        for what, argv in steps:
            _manage(layout, f"{region.name} {what}", argv)
        if chain == "nova":
            # nova disables its Placement client for good if the catalog lacks Placement at start
            keystone_done.wait()
            if not catalog_ready.is_set():
                return
        broker_done.wait()  # every service sends RPC or notifications through it
        if not broker_ready.is_set():
            return
        names = ([f"{region.name}-nova-api", f"{region.name}-nova-control",
                  *conductor_names(region.name, sim.conductors)] if chain == "nova" else [f"{region.name}-{chain}"])
        for name in names:
            launched.append(_launch(layout, by_name[name]))

    def object_store() -> None:
        keystone_done.wait()  # Swift checks tokens with Keystone's user "swift"
        if catalog_ready.is_set():
            swift.start()

    jobs: list[Callable[[], None]] = [message_bus, keystone, object_store]
    for region in layout.regions():
        for chain, steps in _sync_chains(layout, venv, region).items():
            jobs.append(functools.partial(service, region, chain, steps))
    _parallel(jobs)
    _wait_all(layout, launched)
    LOG.info("every API and control service answers (%.0f s)", time.monotonic() - started)
    _start(layout, [p for p in processes if p.name.endswith(("-compute", "-sshd"))])
    opsflow_api.prepare(layout)
    _start(layout, [p for p in processes if p.name in opsflow_api.NAMES])
    _finish(layout, venv, sim, conf_fp, code_fp)
    return f"the simulated cloud is up from nothing in {time.monotonic() - started:.1f} s"


def _start_phases(layout: lay.Layout, venv: Path, sim: configs.SimSettings,
                  batch: Sequence[procs.Proc]) -> None:
    """Start the broker first, then APIs and control services, the simulated hypervisors last."""
    computes = [p for p in batch if p.name.endswith("-compute")]
    bus = [p for p in batch if p.name == broker.NAME]
    if bus:
        broker.prepare(layout)
        _start(layout, bus)
    _start(layout, [p for p in batch if p not in computes and p not in bus])
    if computes:
        _start(layout, computes)


def _utcnow() -> datetime.datetime:
    """Now in UTC without a zone, the way nova stores a service's last report."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def _serves_heartbeats(name: str) -> bool:
    """Whether process ``name`` runs a nova-conductor, which every hypervisor's heartbeat goes through."""
    return name.endswith("-nova-control") or "-nova-conductor-" in name


def _finish(layout: lay.Layout, venv: Path, sim: configs.SimSettings, conf_fp: str,
            code_fp: dict[str, str], heard_since: datetime.datetime | None = None) -> None:
    """Seed, wait for every hypervisor (each heard after ``heard_since`` when given), note the cloud up."""
    regions = layout.regions()
    _parallel([functools.partial(seed.seed_region, layout, r) for r in regions])
    lost_heartbeat = RPC_TIMEOUT if heard_since is not None else 0
    _parallel([functools.partial(seed.wait_for_hypervisors, layout, r, sim.computes_in(r.name),
                                 compute_wait(sim.computes_in(r.name)) + lost_heartbeat,
                                 _discover(layout, venv, r), heard_since) for r in regions])
    _parallel([functools.partial(seed.forget_hypervisors, layout, r, sim.computes_in(r.name)) for r in regions])
    clouds.write(layout)
    _record(layout, sim, conf_fp, code_fp)


def _record(layout: lay.Layout, sim: configs.SimSettings, conf_fp: str, code_fp: dict[str, str]) -> None:
    """Note that the cloud is up and seeded, shaped by ``sim`` (read back by :func:`settings`)."""
    shaped = dataclasses.asdict(sim) | {"scheduler": sim.scheduler.value}
    layout.state_file.write_text(json.dumps({"config": conf_fp, "code": code_fp, "seeded": "yes",
                                             "settings": shaped}))


def settings(layout: lay.Layout) -> configs.SimSettings | None:
    """The settings the running cloud was last brought up with (None: not up, or from older code)."""
    saved = _load_state(layout).get("settings")
    if not isinstance(saved, dict):
        return None
    return configs.SimSettings(**(saved | {"scheduler": scheduler_modes.SchedulerMode(saved["scheduler"])}))


def resize(layout: lay.Layout, region: str, hosts: int, other_region_hosts: int) -> str:
    """Give ``region`` ``hosts`` simulated hypervisors and the other one ``other_region_hosts``,
    keeping every other setting of the running cloud: only the compute processes restart."""
    current = settings(layout)
    if current is None:
        raise BringUpFailed("simulated cloud", "it is not up, or was brought up by older code; "
                            "run `opsflow devcloud up` first")
    source, destination = (hosts, other_region_hosts) if region == "source" else (other_region_hosts, hosts)
    return up(layout, dataclasses.replace(current, computes=source, destination_computes=destination))


def _reset(layout: lay.Layout) -> None:
    """Empty databases and state directory (the broker's data with it) of the simulated cloud."""
    infra.reset_databases(infra.databases(layout))
    keep = {layout.logs}
    if layout.state.exists():
        for child in layout.state.iterdir():
            if child not in keep:
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    layout.logs.mkdir(parents=True, exist_ok=True)


def _every_process_name() -> list[str]:
    """Every process any shape of the simulated cloud runs (Swift's aside)."""
    names = [broker.NAME, "keystone"] + [f"{r}-{s}" for r in lay.REGIONS
                                         for s in ("placement", "neutron", "glance", "nova-api", "nova-control",
                                                   "compute", "sshd")]
    names += [name for r in lay.REGIONS for name in conductor_names(r, MAX_CONDUCTORS)]
    return names + list(opsflow_api.NAMES)


def down(layout: lay.Layout) -> str:
    """Stop every process and remove databases and state (the broker's too); keep the services' virtualenv."""
    stopped = _stop_all(layout, _every_process_name())
    objectstore.cluster(layout, services_venv.venv_dir(layout.home)).stop()
    infra.drop_databases(infra.databases(layout))
    shutil.rmtree(layout.state, ignore_errors=True)
    layout.clouds_yaml.unlink(missing_ok=True)
    layout.host_access.unlink(missing_ok=True)
    return f"stopped {len(stopped)} process(es); databases, queues and state removed"


def status(layout: lay.Layout, sim: configs.SimSettings) -> list[Row]:
    """Each process with its port, pid and health (``ok``, ``unhealthy`` or ``down``)."""
    venv = services_venv.venv_dir(layout.home)
    rows = []
    for proc in plan(layout, venv, sim):
        pid = procs.alive_pid(layout.run, proc.name)
        if pid is None:
            health = "down"
        elif not procs.answers(proc):
            health = "unhealthy"
        else:
            health = "ok"
        rows.append(Row(proc.name, proc.region or "-", proc.port, pid, health,
                        layout.logs / f"{proc.name}.log"))
    swift = objectstore.cluster(layout, venv)
    for name, port, pid, ok in objectstore.rows(swift):
        health = "down" if pid is None else "ok" if ok else "unhealthy"
        rows.append(Row(name, "-", port, pid, health, objectstore.log_path(swift, name)))
    healthy = {r.name for r in rows if r.health == "ok"}
    rows += [_computes_up(layout, region.name, sim, asked=f"{region.name}-nova-api" in healthy)
             for region in layout.regions()]
    return rows


def _computes_up(layout: lay.Layout, region: str, sim: configs.SimSettings, *, asked: bool) -> Row:
    """Whether nova sees every simulated hypervisor of ``region`` up: live processes are not enough.

    A compute process can run while its services never registered, or stopped heartbeating; only
    nova's own service list (state ``up``, enabled) says the hypervisors are usable.
    """
    name = f"{region}-nova-computes"
    log = layout.logs / f"{region}-compute.log"
    prefix = layout.region(region).host_prefix
    if not asked:  # no nova API of ours to ask (maybe another cloud's answers on the port)
        return Row(name, region, 0, None, "down", log)
    try:
        services = list(seed.admin_connection(layout, region).compute.services(binary="nova-compute"))
    except (openstack.exceptions.SDKException, keystoneauth1.exceptions.ClientException) as exc:
        return Row(name, region, 0, None, f"unknown (nova: {type(exc).__name__})", log)
    up = sum(1 for s in services if s.host.startswith(prefix) and s.state == "up" and s.status == "enabled")
    want = sim.computes_in(region)
    return Row(name, region, 0, None, "ok" if up >= want else f"{up}/{want} up", log)
