"""Conductors on a 3-node ZooKeeper ensemble keep finishing jobs when the leader is killed mid-run."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from opsflow.engines.records import RunState
from opsflow.services.zookeeper import Ensemble, find_free_ports
from tests.fixtures import eventually
from tests.functional.conductor.harness import Cluster

pytestmark = [pytest.mark.functional, pytest.mark.slow]

FLOW = """
name: steady
tasks:
  - name: step
    for_each: [1, 2, 3, 4, 5, 6, 7, 8]
    concurrency: 2
    action: core.sleep
    args: {seconds: 0.2}
"""


@pytest.fixture
def ensemble(tmp_path: Path) -> Iterator[Ensemble]:
    servers = Ensemble(tmp_path / "ensemble", 3, find_free_ports(9))
    servers.start()
    try:
        yield servers
    finally:
        servers.stop()


def test_jobs_finish_when_a_zookeeper_node_dies_mid_run(tmp_path: Path, ensemble: Ensemble) -> None:
    """Kill -9 the leader while two conductors run four jobs; every job still succeeds."""
    cluster = Cluster(tmp_path, f"{ensemble.hosts}/opsflow")
    try:
        cluster.start("one")
        cluster.start("two")
        run_ids = [cluster.submit(FLOW) for _ in range(4)]
        eventually(lambda: sum(cluster.executions().values()) >= 6, what="work under way")
        leader = ensemble.leader()
        assert leader is not None
        ensemble.kill(leader)
        eventually(lambda: not cluster.board.entries(), 90, "every job finished")
        assert [cluster.runner.record(r).state for r in run_ids] == [RunState.SUCCEEDED] * 4
    finally:
        cluster.close()
