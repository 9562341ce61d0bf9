"""What the distributed mode costs and how it scales: real `opsflow conductor` processes on a real ZooKeeper.

Measured in one run, on one ZooKeeper server started here (opsflow.services.zookeeper, tickTime
500 ms, fsync on), each phase under a fresh root:

* **throughput** -- jobs of a trivial flow (one ``core.noop`` task) completed per second by 1, 2 and
  4 conductor processes (``--jobs 4`` each), from the first post to the board being empty; the
  ratio is against one conductor;
* **claim latency** -- from the start of a post to the claim node of an idle conductor appearing
  (seen through a ZooKeeper watch), median and 95th percentile;
* **per-task time** -- one job of N independent ``core.noop`` tasks run by a conductor with its
  state in ZooKeeper (opsflow's backend), first task start to last task end over N, against the same
  flow run in-process on ``memory://`` state (the engine alone);
* **failover** -- a conductor running a job is killed with SIGKILL; the time until the other
  conductor holds the claim, and until the task in flight runs again there, for the conductors'
  default session timeout (4 s) and for 1 s (the floor of a tickTime-500 server).

    python benchmarks/conductor.py [--jobs 60] [--tasks 500] [--failovers 2] [--zookeeper HOSTS]
"""

from __future__ import annotations

import argparse
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from opsflow import jobs
from opsflow.engines.jobboard import Address, JobBoard
from opsflow.engines.records import TaskState
from opsflow.engines.runner import Runner
from opsflow.flows import loader
from opsflow.services.zookeeper import serving

OPSFLOW = [sys.executable, "-c", "from opsflow.cli import run_main; run_main()"]
TRIVIAL = "name: trivial\ntasks:\n  - {name: only, action: core.noop}\n"
SLOW = "name: slow\ntasks:\n  - {name: nap, action: core.sleep, args: {seconds: 5}}\n"
EXECUTING = re.compile(r"(\d\d:\d\d:\d\d,\d\d\d) INFO opsflow\.engines\.atoms: nap: executing")


def wide(tasks: int) -> str:
    """A flow of ``tasks`` independent no-op tasks."""
    return "name: wide\ntasks:\n" + "".join(f"  - {{name: t{i}, action: core.noop}}\n" for i in range(tasks))


class Conductors:
    """Conductor processes on one address, stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self, workdir: Path, address: str, count: int, timeout: float = 4.0) -> None:
        self.logs = [workdir / f"conductor-{uuid.uuid4().hex[:6]}.log" for _ in range(count)]
        self.names = [log.stem for log in self.logs]
        self.processes = []
        for name, log in zip(self.names, self.logs):
            with log.open("wb") as err:
                self.processes.append(subprocess.Popen(
                    OPSFLOW + ["-v", "conductor", "--zookeeper", address, "--name", name, "--jobs", "4",
                               "--session-timeout", str(timeout)], stderr=err, stdout=subprocess.DEVNULL))

    def wait_registered(self, board: JobBoard) -> None:
        deadline = time.monotonic() + 60
        while set(self.names) - set(board.conductors()):
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.processes):
                tails = " ".join(log.read_text()[-400:] for log in self.logs)
                raise RuntimeError(f"a conductor did not start: {tails}")
            time.sleep(0.02)

    def __enter__(self) -> Conductors:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _root(hosts: str, label: str, timeout: float = 4.0) -> Address:
    return Address.parse(f"{hosts}/opsflow-bench/{label}-{uuid.uuid4().hex[:8]}", timeout)


def throughput(workdir: Path, hosts: str, conductors: int, count: int) -> float:
    """Jobs per second completed by ``conductors`` processes."""
    address = _root(hosts, f"throughput{conductors}")
    definition = loader.load_text(TRIVIAL)
    with JobBoard(address) as board, Runner(address.state_url) as runner, \
            Conductors(workdir, str(address), conductors) as procs:
        procs.wait_registered(board)
        started = time.monotonic()
        for _ in range(count):
            jobs.submit(board, runner, definition, {})
        while board.entries():
            time.sleep(0.01)
        return count / (time.monotonic() - started)


def claim_latency(workdir: Path, hosts: str, samples: int) -> list[float]:
    """Seconds from a post to an idle conductor's claim, ``samples`` times."""
    address = _root(hosts, "claim")
    definition = loader.load_text(SLOW.replace("seconds: 5", "seconds: 0"))
    latencies = []
    with JobBoard(address) as board, Runner(address.state_url) as runner, Conductors(workdir, str(address), 1) as procs:
        procs.wait_registered(board)
        from kazoo.client import KazooClient

        watcher = KazooClient(hosts=hosts)
        watcher.start()
        claimed = threading.Event()
        seen: dict[str, float] = {}

        def on_children(children: list[str]) -> None:
            for name in children:
                if name.endswith(".lock") and name not in seen:
                    seen[name] = time.monotonic()
                    claimed.set()

        watcher.ChildrenWatch(f"{address.root}/jobs", on_children)
        try:
            for _ in range(samples):
                while board.entries():
                    time.sleep(0.01)
                claimed.clear()
                begun = time.monotonic()
                jobs.submit(board, runner, definition, {})
                if not claimed.wait(10):
                    raise RuntimeError("the conductor claimed nothing within 10 s")
                latencies.append(max(seen.values()) - begun)
        finally:
            watcher.stop()
            watcher.close()
    return latencies


def per_task(workdir: Path, hosts: str, tasks: int) -> tuple[float, float]:
    """Seconds per task with state in ZooKeeper under a conductor, and in memory in-process."""
    definition = loader.load_text(wide(tasks))
    with Runner("memory://", max_workers=8) as local:
        record = local.run(definition, {})
    in_memory = _span(record) / tasks
    address = _root(hosts, "pertask")
    with JobBoard(address) as board, Runner(address.state_url) as runner, Conductors(workdir, str(address), 1) as procs:
        procs.wait_registered(board)
        run_id = jobs.submit(board, runner, definition, {})
        while board.entries():
            time.sleep(0.05)
        in_zookeeper = _span(runner.record(run_id)) / tasks
    return in_zookeeper, in_memory


def _span(record: object) -> float:
    tasks = [t for t in record.tasks if t.started is not None and t.finished is not None]  # type: ignore[attr-defined]
    return max(t.finished for t in tasks) - min(t.started for t in tasks)


def failover(workdir: Path, hosts: str, timeout: float) -> tuple[float, float]:
    """Seconds from SIGKILL of the claim holder to the other conductor's claim, and to the task running again."""
    address = _root(hosts, "failover", timeout)
    with JobBoard(address) as board, Runner(address.state_url) as runner, \
            Conductors(workdir, str(address), 2, timeout) as procs:
        procs.wait_registered(board)
        run_id = jobs.submit(board, runner, loader.load_text(SLOW), {})
        entry = board.find(run_id)
        while (owner := board.owner(board.find(run_id))) is None or "nap" not in _running(runner, run_id):
            time.sleep(0.01)
        victim = procs.names.index(owner)
        survivor_log = procs.logs[1 - victim]
        procs.processes[victim].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        killed_wall = time.time()
        while board.owner(entry) in (None, owner):
            time.sleep(0.005)
        claim = time.monotonic() - killed
        while not EXECUTING.search(survivor_log.read_text()):
            time.sleep(0.005)
        stamp = EXECUTING.search(survivor_log.read_text()).group(1)  # type: ignore[union-attr]
        ran = _log_time(stamp, killed_wall) - killed_wall
        return claim, ran


def _running(runner: Runner, run_id: str) -> set[str]:
    return {t.path for t in runner.record(run_id).tasks if t.state is TaskState.RUNNING}


def _log_time(stamp: str, near: float) -> float:
    """Epoch seconds of a logging ``HH:MM:SS,mmm`` stamp from today (local time)."""
    day = time.strftime("%Y-%m-%d", time.localtime(near))
    clock, millis = stamp.split(",")
    return time.mktime(time.strptime(f"{day} {clock}", "%Y-%m-%d %H:%M:%S")) + int(millis) / 1000


def main() -> None:
    """Run every phase and print figures, then the one-line summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=60, help="jobs per throughput measurement")
    parser.add_argument("--tasks", type=int, default=500, help="tasks in the per-task flow")
    parser.add_argument("--samples", type=int, default=20, help="claim latency samples")
    parser.add_argument("--failovers", type=int, default=2, help="kills per session timeout")
    parser.add_argument("--zookeeper", help="use this ZooKeeper instead of starting one")
    args = parser.parse_args()
    summary: list[str] = []
    with tempfile.TemporaryDirectory(prefix="opsflow-bench-") as tmp, serving(Path(tmp) / "zookeeper", args.zookeeper) as hosts:
        workdir = Path(tmp)
        rates = {}
        for count in (1, 2, 4):
            rates[count] = throughput(workdir, hosts, count, args.jobs)
            print(f"throughput, {count} conductor(s): {rates[count]:6.1f} jobs/s "
                  f"({rates[count] / rates[1]:.2f}x one conductor)", flush=True)
        summary += [f"jobs/s x1: {rates[1]:.1f}", f"jobs/s x2: {rates[2]:.1f}", f"jobs/s x4: {rates[4]:.1f}"]

        latencies = sorted(claim_latency(workdir, hosts, args.samples))
        p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
        print(f"claim latency: median {1000 * statistics.median(latencies):.1f} ms, p95 {1000 * p95:.1f} ms "
              f"({len(latencies)} posts)", flush=True)
        summary.append(f"claim ms p50: {1000 * statistics.median(latencies):.1f}")

        in_zk, in_memory = per_task(workdir, hosts, args.tasks)
        print(f"per task, {args.tasks} tasks: {1000 * in_zk:.2f} ms with state in ZooKeeper under a conductor, "
              f"{1000 * in_memory:.2f} ms in memory in-process ({in_zk / in_memory:.1f}x)", flush=True)
        summary.append(f"ms/task zookeeper: {1000 * in_zk:.2f}")

        for timeout in (4.0, 1.0):
            results = [failover(workdir, hosts, timeout) for _ in range(args.failovers)]
            claims = [c for c, _ in results]
            reruns = [r for _, r in results]
            print(f"failover, session timeout {timeout:g} s: claimed elsewhere after "
                  f"{', '.join(f'{c:.2f}' for c in claims)} s; task running again after "
                  f"{', '.join(f'{r:.2f}' for r in reruns)} s", flush=True)
            summary.append(f"failover s (timeout {timeout:g}): {max(reruns):.2f}")
    print(", ".join(summary))


if __name__ == "__main__":
    main()
