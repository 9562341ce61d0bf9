"""A soak: many jobs over three conductors under kill -9, SIGSTOP and a ZooKeeper restart.

Every job finishes; a task runs twice only if it was in flight at a fault of the process running
it (one the test caused, or a session expiry the conductor itself logged: starved of CPU past its
session timeout, a conductor is as good as stopped); and the board's node count ends within 10 % of where it stood once the first tenth of the jobs
had run (finished runs are pruned, so it does not grow with the jobs done). The size is
``$OPSFLOW_SOAK_JOBS`` (default 1000, issue 8's figure).
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import os
import random
import re
import signal
import time
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError

from opsflow.engines import retention
from opsflow.engines.records import RunState
from opsflow.errors import BackendUnavailable
from opsflow.services.zookeeper import ZooKeeperServer, find_free_ports
from tests.fixtures import eventually
from tests.functional.conductor.harness import SESSION_TIMEOUT, Cluster, ConductorProcess

pytestmark = [pytest.mark.functional, pytest.mark.slow]

JOBS = int(os.environ.get("OPSFLOW_SOAK_JOBS", "1000"))
#: Seed of the fault schedule, so a failing soak can be replayed.
SEED = int(os.environ.get("OPSFLOW_SOAK_SEED", "8"))
#: How long before a fault a task may have started and still be in flight at it (its sleep, the
#: state write behind it, and a loaded machine's scheduling delay).
IN_FLIGHT = 5.0
#: How long a stopped conductor stays stopped: well past its session timeout, so others take over.
STOPPED_FOR = 3 * float(SESSION_TIMEOUT)
#: What each conductor runs with: finished runs are pruned at once, so the board stays its size.
CONDUCTOR_ARGS = ("--jobs", "4", "--retain-count", "0", "--prune-every", "5")

SOAK = """
name: soak
tasks:
  - {name: first, action: core.echo, args: {message: go}}
  - name: pair
    for_each: [1, 2]
    concurrency: 2
    action: core.sleep
    args: {seconds: 0.05}
    after: [first]
  - {name: last, action: core.echo, args: {message: "${tasks.pair}"}}
"""

#: An execution in a conductor's -v log: when, which task, which run.
EXECUTION = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO opsflow\.engines\.atoms: (\S+): executing \(try \d+, run (\S+)\)",
    re.MULTILINE)

#: A conductor's own report that its ZooKeeper session expired: on a starved machine this happens
#: without a scheduled fault (a conductor not scheduled for a session timeout is a stopped one).
SESSION_LOST = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) WARNING opsflow\.conductor: conductor \S+ lost its "
                          r"ZooKeeper session", re.MULTILINE)


def _stamp(text: str) -> float:
    return datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S,%f").timestamp()


@dataclasses.dataclass(frozen=True)
class Fault:
    """Something done to processes: from ``began`` to ``ended``, to the conductors named."""

    kind: str
    began: float
    ended: float
    victims: frozenset[str]

    def caught(self, conductor: str, started: float) -> bool:
        """Whether an execution that conductor started then could have been in flight at this fault."""
        return conductor in self.victims and self.began - IN_FLIGHT <= started <= self.ended


@dataclasses.dataclass(frozen=True)
class Execution:
    conductor: str
    started: float


def _executions(conductors: list[ConductorProcess]) -> dict[tuple[str, str], list[Execution]]:
    found: dict[tuple[str, str], list[Execution]] = collections.defaultdict(list)
    for conductor in conductors:
        for stamp, path, run_id in EXECUTION.findall(conductor.log.read_text()):
            found[(run_id, path)].append(Execution(conductor.name, _stamp(stamp)))
    return found


def _sessions_lost(conductors: list[ConductorProcess]) -> list[Fault]:
    """Session expiries the conductors logged themselves, each a fault from two session timeouts
    before it was noticed (starved that long, the conductor was as good as stopped)."""
    return [Fault("session lost (logged)", _stamp(stamp) - 2 * float(SESSION_TIMEOUT), _stamp(stamp),
                  frozenset({conductor.name}))
            for conductor in conductors for stamp in SESSION_LOST.findall(conductor.log.read_text())]


def _node_counts(hosts: str, root: str) -> collections.Counter[str]:
    """Nodes under ``root`` by their top folder (one pruned meanwhile is not counted)."""
    client = KazooClient(hosts=hosts)
    client.start(timeout=30)
    try:
        counts: collections.Counter[str] = collections.Counter()
        pending = [root]
        while pending:
            path = pending.pop()
            try:
                children = client.get_children(path)
            except NoNodeError:
                continue
            counts["/".join(path[len(root):].split("/")[:3]) or "/"] += len(children)
            pending.extend(f"{path}/{child}" for child in children)
        return counts
    finally:
        client.stop()
        client.close()


def _retention_lines(conductors: list[ConductorProcess]) -> list[str]:
    """The last lines each conductor logged about pruning, for a node count that did not settle."""
    return [f"{c.name}: {line[:300]}" for c in conductors
            for line in [ln for ln in c.log.read_text().splitlines() if "retention" in ln][-3:]]


def _settled_node_count(hosts: str, root: str, near: int | None = None) -> int:
    """The node count once pruning has caught up: within 10 % of ``near``, or steady for 3 reads."""
    seen: list[collections.Counter[str]] = []
    deadline = time.monotonic() + 180
    while True:
        seen.append(_node_counts(hosts, root))
        totals = [sum(c.values()) for c in seen]
        if near is not None and abs(totals[-1] - near) <= 0.1 * near:
            return totals[-1]
        if near is None and len(totals) >= 3 and totals[-1] == totals[-2] == totals[-3]:
            return totals[-1]
        assert time.monotonic() < deadline, f"node count not settled near {near}: {totals[-5:]}, last {seen[-1]}"
        time.sleep(2)


def _unfinished(cluster: Cluster) -> int | None:
    """Jobs still on the board, or None while ZooKeeper is away."""
    try:
        return len(cluster.board.entries())
    except BackendUnavailable:
        return None


def _jobs_left(cluster: Cluster) -> int:
    """Jobs still on the board, waiting out a ZooKeeper outage."""
    deadline = time.monotonic() + 120
    while (left := _unfinished(cluster)) is None:
        assert time.monotonic() < deadline, "the board stayed unreadable for 120 s"
        time.sleep(0.5)
    return left


class Saboteur:
    """Kills, stops and restarts on a seeded schedule while the jobs run; keeps what it did."""

    def __init__(self, cluster: Cluster, server: ZooKeeperServer, rng: random.Random) -> None:
        self.cluster = cluster
        self.server = server
        self.rng = rng
        self.faults: list[Fault] = []
        self.started = 3

    def live(self) -> list[ConductorProcess]:
        return [c for c in self.cluster.conductors if c.process.poll() is None]

    def kill(self) -> None:
        victim = self.rng.choice(self.live())
        now = time.time()
        victim.kill()
        self.faults.append(Fault("kill -9", now, now, frozenset({victim.name})))
        self.started += 1
        self.cluster.start(f"soak-{self.started}", *CONDUCTOR_ARGS, wait=False)

    def stop(self) -> None:
        victim = self.rng.choice(self.live())
        began = time.time()
        victim.process.send_signal(signal.SIGSTOP)
        time.sleep(STOPPED_FOR)
        victim.process.send_signal(signal.SIGCONT)
        self.faults.append(Fault("SIGSTOP", began, time.time(), frozenset({victim.name})))

    def restart_zookeeper(self) -> None:
        victims = frozenset(c.name for c in self.live())
        began = time.time()
        self.server.stop()
        time.sleep(5)
        self.server.start()
        # the conductors reconnect and find their sessions expired: work in flight may run again
        self.faults.append(Fault("ZooKeeper restart", began, time.time() + 2 * float(SESSION_TIMEOUT), victims))


def test_a_thousand_jobs_survive_kills_stops_and_a_zookeeper_restart(tmp_path: Path) -> None:
    """All jobs succeed; only tasks in flight at a fault ran twice; the node count ends where it began."""
    server = ZooKeeperServer(tmp_path / "zookeeper", find_free_ports(1))
    server.start()
    cluster = Cluster(tmp_path, f"{server.hosts}/soak")
    try:
        for index in range(3):
            cluster.start(f"soak-{index + 1}", *CONDUCTOR_ARGS)
        # the start is the board in use: a first tenth of the jobs done and pruned
        run_ids = [cluster.submit(SOAK) for _ in range(JOBS // 10)]
        eventually(lambda: _unfinished(cluster) == 0, 600, "the first tenth of the jobs finished")
        nodes_at_start = _settled_node_count(server.hosts, "/soak")
        run_ids += [cluster.submit(SOAK) for _ in range(JOBS - len(run_ids))]

        saboteur = Saboteur(cluster, server, random.Random(SEED))
        schedule = [saboteur.kill, saboteur.stop] * 3
        saboteur.rng.shuffle(schedule)
        schedule.insert(len(schedule) // 2, saboteur.restart_zookeeper)
        for fault in schedule:
            if _jobs_left(cluster) < JOBS // 10:
                break
            time.sleep(saboteur.rng.uniform(2.0, 4.0))
            fault()

        eventually(lambda: _unfinished(cluster) == 0, 1800, f"all {JOBS} jobs finished")
        states = collections.Counter(cluster.runner.record(run_id).state for run_id in run_ids)
        assert states == {RunState.SUCCEEDED: JOBS}

        faults = saboteur.faults + _sessions_lost(cluster.conductors)
        unexplained = {
            key: runs for key, runs in _executions(cluster.conductors).items()
            if sum(any(f.caught(e.conductor, e.started) for f in faults) for e in runs) < len(runs) - 1
        }
        assert unexplained == {}, (faults, dict(list(unexplained.items())[:5]))
        try:
            _settled_node_count(server.hosts, "/soak", near=nodes_at_start)
        except AssertionError as exc:
            pruners = [f"{c.name}: {stack}" for c in cluster.conductors for stack in c.stacks("retention.py")]
            raise AssertionError(f"{exc}; what the pruners logged last: {_retention_lines(cluster.conductors)}; "
                                 f"whose turn it is: {retention.Turn(cluster.board).holder()}; "
                                 f"where the pruners are now: {pruners}") from None
    finally:
        cluster.close()
        server.stop()
