"""What durable flow state costs per task: opsflow's persistence backends against TaskFlow's own.

One run of an unordered flow of N no-op tasks (each returns a small result, so results are
stored) on a TaskFlow parallel engine with a shared 4-thread executor (an engine-owned one costs
~1 s at shutdown), state kept in each of:

* ``none``               -- no backend: TaskFlow's in-process memory storage (the engine's own cost)
* ``taskflow-sqlite``    -- TaskFlow's SQLAlchemy backend on an SQLite file
* ``opsflow-sqlite``     -- opsflow's SQLite backend (stdlib sqlite3, WAL, one connection)
* ``taskflow-zookeeper`` -- TaskFlow's ZooKeeper backend
* ``opsflow-zookeeper``  -- opsflow's ZooKeeper backend
* (with ``--only``) ``opsflow-sqlite-full`` -- fsync per commit; ``opsflow-zookeeper-sync`` -- no
  write-behind

Each measurement runs in a fresh subprocess so its RSS growth (peak RSS minus RSS just before the
run) is its own (a ZooKeeper started here is warmed up first); with ``--repeat`` the fastest run counts (the machine is shared). CPU time is the
process's, all threads. ZooKeeper is a real server started here (opsflow.services.zookeeper) with its
default fsync of the transaction log. Per-task figures include the engine; ratios compare each
TaskFlow backend with its opsflow counterpart. ``--profile NAME`` prints a cProfile of one backend.

    python benchmarks/persistence.py [--tasks 1000] [--repeat 3] [--only opsflow-sqlite,...] [--profile NAME]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BACKENDS = ("none", "taskflow-sqlite", "opsflow-sqlite", "taskflow-zookeeper", "opsflow-zookeeper")
#: Variants measured only when named with --only: what power-loss safety and write-behind change.
VARIANTS = ("opsflow-sqlite-full", "opsflow-zookeeper-sync")
PAIRS = (("sqlite", "taskflow-sqlite", "opsflow-sqlite"), ("zookeeper", "taskflow-zookeeper", "opsflow-zookeeper"))


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _backend(name: str, workdir: Path, zk_hosts: str) -> Any:
    """Make the backend under test (None: the engine's in-memory storage)."""
    if name == "none":
        return None
    if name == "taskflow-sqlite":
        from taskflow.persistence import backends

        return backends.fetch({"connection": f"sqlite:///{workdir / 'taskflow.db'}"})
    if name == "taskflow-zookeeper":
        from taskflow.persistence.backends import impl_zookeeper

        return impl_zookeeper.ZkBackend({"hosts": zk_hosts, "path": f"/bench-taskflow-{uuid.uuid4().hex}"})
    from opsflow.engines import persistence

    if name == "opsflow-sqlite":
        return persistence.fetch(f"sqlite:///{workdir / 'opsflow.db'}")
    if name == "opsflow-sqlite-full":  # fsync on every commit: safe against power loss too
        return persistence.fetch(f"sqlite:///{workdir / 'opsflow-full.db'}?synchronous=FULL")
    if name == "opsflow-zookeeper":
        return persistence.fetch(f"zookeeper://{zk_hosts}/bench-opsflow-{uuid.uuid4().hex}")
    if name == "opsflow-zookeeper-sync":  # every write awaited, none written behind
        return persistence.fetch(f"zookeeper://{zk_hosts}/bench-opsflow-{uuid.uuid4().hex}?write_behind=false")
    raise SystemExit(f"unknown backend {name!r}; choose from {', '.join(BACKENDS + VARIANTS)}")


def measure(name: str, tasks: int, workdir: Path, zk_hosts: str, profile: bool) -> dict[str, float]:
    """Run the flow once on ``name`` in this process; return seconds and RSS figures."""
    import futurist
    from taskflow import engines, task
    from taskflow.patterns import unordered_flow

    class NoOp(task.Task):  # type: ignore[misc]
        def execute(self) -> int:
            return 1

    backend = _backend(name, workdir, zk_hosts)
    if backend is not None:
        with contextlib.closing(backend.get_connection()) as conn:
            conn.upgrade()
    flow = unordered_flow.Flow("bench")
    flow.add(*(NoOp(f"t{i}") for i in range(tasks)))
    executor = futurist.ThreadPoolExecutor(max_workers=4)
    rss_before = _rss_kib()
    profiler = cProfile.Profile() if profile else None
    started, cpu_started = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    engine = engines.load(flow, engine="parallel", executor=executor, backend=backend)
    engine.run()
    if profiler:
        profiler.disable()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    executor.shutdown()
    if backend is not None:
        with contextlib.closing(backend.get_connection()) as conn:
            conn.clear_all()  # leave nothing behind in a ZooKeeper given with --zk-hosts
        backend.close()
    if profiler:
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    return {"seconds": seconds, "cpu": cpu, "rss_growth_mib": max(0, peak - rss_before) / 1024, "peak_mib": peak / 1024}


def _warm_up(hosts: str, requests: int = 5000) -> None:
    """Let a fresh ZooKeeper's JIT compile its request path, so neither side pays for it."""
    from kazoo.client import KazooClient

    client = KazooClient(hosts=hosts)
    client.start(timeout=30)
    try:
        client.ensure_path("/warm-up")
        for batch in range(0, requests, 500):
            for result in [client.set_async("/warm-up", b"x" * 300) for _ in range(500)]:
                result.get()
            client.set("/warm-up", b"y")
        client.delete("/warm-up")
    finally:
        client.stop()
        client.close()


@contextlib.contextmanager
def zookeeper(workdir: Path, hosts: str | None) -> Iterator[str]:
    """Yield the hosts of the ZooKeeper given, or of one started (and warmed up) here for the run."""
    from opsflow.services.zookeeper import serving

    with serving(workdir / "zookeeper", hosts) as served:
        if not hosts:
            _warm_up(served)
        yield served


def main() -> None:
    """Measure every backend in its own subprocess and print per-task cost, RSS and ratios."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=1, help="runs per backend; the fastest is reported")
    parser.add_argument("--only", default=",".join(BACKENDS), help="comma-separated backends to measure")
    parser.add_argument("--zk-hosts", help="use this ZooKeeper instead of starting one")
    parser.add_argument("--profile", metavar="NAME", help="print a cProfile of one backend's run")
    parser.add_argument("--child", metavar="NAME", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        result = measure(args.child, args.tasks, args.workdir, args.zk_hosts or "", args.profile == args.child)
        print(json.dumps(result))
        return

    names = [args.profile] if args.profile else [n for n in args.only.split(",") if n]
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="opsflow-bench-") as tmp, zookeeper(Path(tmp), args.zk_hosts) as hosts:
        for name in names:
            command = [sys.executable, __file__, "--child", name, "--tasks", str(args.tasks),
                       "--workdir", tmp, "--zk-hosts", hosts]
            if args.profile:
                command += ["--profile", args.profile]
            runs = []
            for _ in range(1 if args.profile else args.repeat):
                out = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
                runs.append(json.loads(out.strip().splitlines()[-1]))
            results[name] = r = min(runs, key=lambda run: run["seconds"])
            print(f"{name:20} {1000 * r['seconds'] / args.tasks:7.2f} ms/task wall "
                  f"{1000 * r['cpu'] / args.tasks:7.2f} ms/task CPU  {r['seconds']:6.2f} s  "
                  f"RSS +{r['rss_growth_mib']:6.1f} MiB (peak {r['peak_mib']:.0f} MiB)", flush=True)

    summary = [f"tasks: {args.tasks}"]
    for name, r in results.items():
        summary.append(f"{name} ms/task: {1000 * r['seconds'] / args.tasks:.2f}")
        if "none" in results and name != "none":
            overhead = 1000 * (r["seconds"] - results["none"]["seconds"]) / args.tasks
            print(f"{name:20} {overhead:7.2f} ms/task over the engine alone")
        summary.append(f"{name} rss MiB: {r['rss_growth_mib']:.1f}")
    for label, theirs, ours in PAIRS:
        if theirs in results and ours in results:
            ratio = results[theirs]["seconds"] / results[ours]["seconds"]
            print(f"{label}: opsflow is {ratio:.1f}x faster than TaskFlow's own backend")
            summary.append(f"{label} speed-up: {ratio:.1f}x")
    print(", ".join(summary))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
