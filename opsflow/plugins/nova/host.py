"""Many simulated hypervisors in one process, each its own nova-compute service.

Every host gets what a real hypervisor has in the control plane's eyes: its own ``nova-compute``
service record and heartbeat, its own RPC queues (``compute.<host>``), its own ComputeManager,
resource tracker and ``SimDriver`` instance, and its own resource provider in Placement. Sharing
one interpreter is what lets hundreds fit on a small machine (~0.5 MB per service instead of
≥ 24 MB per process; shared/TESTBED.md).

Run inside the services' virtualenv::

    python -m opsflow.plugins.nova.host --config-file nova-compute.conf --host h1 --host h2
    python -m opsflow.plugins.nova.host --config-file nova-compute.conf --prefix sim- --count 50
    python -m opsflow.plugins.nova.host --config-file nova-compute.conf --prefix sim- --count 1000 --processes 4

One interpreter runs its Python on one core at a time, so beyond a few hundred hosts the process
itself is the limit (at 300 in one process a wave of 50 took 106-145 s to start). ``--processes
K`` forks K-1 workers before anything starts, each taking a contiguous share of the hosts; the
first process is their leader: it says the ready line only when every worker's hosts are up,
and stops the whole group when a worker dies, so the devcloud's supervisor sees one process.
"""

# nova decides on eventlet or threads at the first import of nova; it must come first.
from nova import monkey_patch  # isort: skip

monkey_patch.patch(backend="threading")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import functools  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import shlex  # noqa: E402
import signal  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import nova.conf  # noqa: E402
import nova.db.main.api  # noqa: E402
import os_vif  # noqa: E402
from nova import config, objects, service, utils  # noqa: E402
from nova.compute import rpcapi as compute_rpcapi  # noqa: E402
from nova.conductor import rpcapi as conductor_rpcapi  # noqa: E402
from nova.objects import base as objects_base  # noqa: E402
from nova.servicegroup.drivers import db as servicegroup_db  # noqa: E402
from oslo_log import log as oslo_logging  # noqa: E402
from oslo_privsep import priv_context  # noqa: E402

from opsflow.plugins.nova import behaviour, controls  # noqa: E402
from opsflow.plugins.nova import driver as sim_driver  # noqa: E402
from opsflow.plugins.nova._process import run_until_signalled  # noqa: E402

CONF = nova.conf.CONF
LOG = oslo_logging.getLogger(__name__)

#: ``compute_driver`` value that loads SimDriver once the module is registered under nova.virt.
DRIVER_NAME = "opsflow_sim.SimDriver"
#: Services started at once; each start makes a few RPC round trips to the conductor.
START_CONCURRENCY = 8
#: Hosts per wave. Each new service registers, creates its resource provider and sends a first
#: full resource report, all through the one conductor and Placement: a wave at a time, with a
#: pause after it, keeps the hosts already up heartbeating in time (at 300 started at once, the
#: early ones were reported down while the late ones registered).
WAVE = 50
#: Seconds of pause after each wave, per host in it.
WAVE_PAUSE_PER_HOST = 0.05


def register_driver() -> None:
    """Make SimDriver importable as ``nova.virt.opsflow_sim`` (nova loads drivers only there)."""
    sys.modules["nova.virt.opsflow_sim"] = sim_driver


@functools.cache
def _behaviour() -> behaviour.Behaviour:
    """The region's behaviour profile (one reader for every host of this process)."""
    return behaviour.Behaviour(Path(CONF.opsflow_sim.disk_dir))


def is_silent(host: str) -> bool:
    """True when ``host`` is configured, flagged at run time, or profiled to stop reporting now."""
    if host in CONF.opsflow_sim.silent_hosts:
        return True
    if controls.is_silenced(Path(CONF.opsflow_sim.disk_dir), host):
        return True
    return _behaviour().silent(host, time.time())


def _silence_heartbeats() -> None:
    """Skip the heartbeat of silent hosts, as a hypervisor that stopped reporting would."""
    original = servicegroup_db.DbDriver._report_state

    def _report_state(self: Any, svc: Any) -> None:
        if is_silent(svc.host):
            LOG.debug("host %s is silent: no heartbeat", svc.host)
            return
        original(self, svc)

    servicegroup_db.DbDriver._report_state = _report_state


def _ensure_node_identity() -> None:
    """Write the ``compute_id`` file nova insists on when an existing service restarts.

    SimDriver names its node uuids itself (``driver.node_uuid``); the file only has to exist.
    """
    path = Path(CONF.state_path) / "compute_id"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(str(uuid.uuid4()))


def _parse(argv: list[str]) -> tuple[list[str], list[str], int]:
    parser = argparse.ArgumentParser(prog="opsflow.plugins.nova.host", description=__doc__)
    parser.add_argument("--config-file", action="append", default=[], required=True)
    parser.add_argument("--host", action="append", default=[], help="a host name (repeatable)")
    parser.add_argument("--prefix", default="sim-", help="with --count: host name prefix")
    parser.add_argument("--count", type=int, default=0, help="add COUNT hosts PREFIX001, ...")
    parser.add_argument("--processes", type=int, default=1, help="share the hosts over this many processes")
    args = parser.parse_args(argv)
    hosts = list(args.host) + [f"{args.prefix}{i:03d}" for i in range(1, args.count + 1)]
    if not hosts:
        parser.error("give --host or --count")
    if args.processes < 1:
        parser.error("--processes must be at least 1")
    oslo_args = [a for f in args.config_file for a in ("--config-file", f)]
    return hosts, oslo_args, min(args.processes, len(hosts))


def shares(hosts: list[str], processes: int) -> list[list[str]]:
    """``hosts`` cut into ``processes`` contiguous shares, as even as they go."""
    size = math.ceil(len(hosts) / processes)
    return [hosts[first:first + size] for first in range(0, len(hosts), size)]


class Workers:
    """The leader's view of the forked workers: each reports once on its pipe when its hosts are up."""

    def __init__(self) -> None:
        self.pipes: dict[int, int] = {}  # pid -> read end
        self.stopping = threading.Event()

    def wait_ready(self) -> None:
        """Block until every worker said it is up; a worker that died first ends the leader."""
        for pid, pipe in self.pipes.items():
            said = os.read(pipe, 16)
            os.close(pipe)
            if not said:
                raise SystemExit(f"opsflow: simulated-hypervisor worker {pid} died while starting; see its lines above")

    def watch(self) -> None:
        """Stop the whole process group when a worker dies unasked (the supervisor then sees it)."""
        def _wait() -> None:
            pid, status = os.wait()
            if not self.stopping.is_set():
                LOG.error("opsflow: simulated-hypervisor worker %d ended (status %d); stopping them all", pid, status)
                os.killpg(os.getpgid(0), signal.SIGTERM)

        threading.Thread(target=_wait, name="workers", daemon=True).start()


def _fork(all_shares: list[list[str]]) -> tuple[list[str], Workers | None, int | None]:
    """Fork a worker for every share after the first: (this process's share, the leader's Workers or
    None in a worker, a worker's pipe to report on or None in the leader)."""
    workers = Workers()
    for share in all_shares[1:]:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            for other in workers.pipes.values():
                os.close(other)
            return share, None, write_end
        os.close(write_end)
        workers.pipes[pid] = read_end
    return all_shares[0], workers, None


#: Attempts at starting one host before the process gives up.
START_ATTEMPTS = 5


def _create(host: str) -> Any:
    """Start ``host``'s nova-compute service, retrying what a loaded control plane fails transiently.

    At hundreds of hosts a start meets a Keystone or Placement answering 500 (their database
    refusing connections), or an RPC timeout; nova-compute would exit and be restarted by its
    init system. Here that exit would take every other host of the process with it, so a failed
    start is stopped, logged and tried again after a pause that grows.
    """
    for attempt in range(1, START_ATTEMPTS + 1):
        svc = service.Service.create(
            host=host, binary="nova-compute",
            topic=compute_rpcapi.RPC_TOPIC, topic_alt=compute_rpcapi.RPC_TOPIC_ALT)
        try:
            svc.start()
            return svc
        except Exception as exc:  # noqa: BLE001 -- nova raises anything from its clients
            if attempt == START_ATTEMPTS:
                raise
            LOG.warning("opsflow: starting %s failed (%s: %s); attempt %d of %d in %d s", host,
                        type(exc).__name__, exc, attempt + 1, START_ATTEMPTS, 5 * attempt)
            with contextlib.suppress(Exception):
                svc.stop()
            time.sleep(5 * attempt)
    raise AssertionError("unreachable")


def main(argv: list[str] | None = None) -> None:
    """Start one nova-compute service per host and serve until signalled."""
    every_host, oslo_args, processes = _parse(sys.argv[1:] if argv is None else argv)
    hosts, workers, report = _fork(shares(every_host, processes))
    register_driver()
    config.parse_args([sys.argv[0], *oslo_args])
    CONF.set_override("compute_driver", DRIVER_NAME)
    oslo_logging.setup(CONF, "nova")
    priv_context.init(root_helper=shlex.split(utils.get_root_helper()))
    objects.register_all()
    os_vif.initialize()
    # A hypervisor has no database access; everything goes through the conductor.
    nova.db.main.api.DISABLE_DB_ACCESS = True
    objects_base.NovaObject.indirection_api = conductor_rpcapi.ConductorAPI()
    objects.Service.enable_min_version_cache()
    _ensure_node_identity()
    _silence_heartbeats()
    services: list[Any] = []
    with ThreadPoolExecutor(max_workers=min(START_CONCURRENCY, len(hosts))) as pool:
        for first in range(0, len(hosts), WAVE):
            wave = hosts[first:first + WAVE]
            started = time.monotonic()
            services += pool.map(_create, wave)
            LOG.info("opsflow: wave of %d started in %.1f s (%d/%d)", len(wave), time.monotonic() - started,
                     len(services), len(hosts))
            if len(services) < len(hosts):
                time.sleep(WAVE_PAUSE_PER_HOST * len(wave))
    if report is not None:  # a worker: tell the leader, which says the ready line for all
        LOG.info("opsflow: worker of %d hosts up: %s … %s", len(services), hosts[0], hosts[-1])
        os.write(report, b"up")
        os.close(report)
    else:
        assert workers is not None
        workers.wait_ready()
        workers.watch()
        LOG.info("opsflow: %d simulated hypervisor(s) started in %d process(es): %s", len(every_host), processes,
                 ", ".join(every_host) if len(every_host) <= 10 else f"{every_host[0]} … {every_host[-1]}")
    try:
        run_until_signalled(services)
    finally:
        if workers is not None:
            workers.stopping.set()


if __name__ == "__main__":
    main()
