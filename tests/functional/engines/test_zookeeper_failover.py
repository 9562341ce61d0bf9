"""A flow keeps its state in a 3-node ZooKeeper ensemble while the leader is killed mid-run."""

from __future__ import annotations

import contextlib
from pathlib import Path

import futurist
import pytest
from taskflow import engines, states, task
from taskflow.patterns import linear_flow, unordered_flow

from opsflow.engines import persistence
from opsflow.services.zookeeper import Ensemble, find_free_ports

pytestmark = [pytest.mark.functional, pytest.mark.slow]


class Echo(task.Task):  # type: ignore[misc]
    """Returns its own name."""

    def execute(self) -> str:
        return str(self.name)


class KillLeader(task.Task):  # type: ignore[misc]
    """SIGKILLs the ensemble's current leader, as a crashed machine would."""

    def __init__(self, ensemble: Ensemble) -> None:
        super().__init__(name="kill-leader")
        self._ensemble = ensemble

    def execute(self) -> str:
        leader = self._ensemble.leader()
        assert leader is not None
        self._ensemble.kill(leader)
        return "killed"


def test_flow_completes_and_is_stored_when_the_leader_dies(tmp_path: Path) -> None:
    """Every atom reads back SUCCESS after the leader died between two tasks of the run."""
    ensemble = Ensemble(tmp_path, size=3, base_port=find_free_ports(9))
    ensemble.start()
    url = f"zookeeper://{ensemble.hosts}/failover?timeout=10"
    backend = persistence.fetch(url)
    executor = futurist.ThreadPoolExecutor(max_workers=2)
    try:
        flow = linear_flow.Flow("failover").add(
            unordered_flow.Flow("before").add(*(Echo(f"before-{i}") for i in range(5))),
            KillLeader(ensemble),
            unordered_flow.Flow("after").add(*(Echo(f"after-{i}") for i in range(5))),
        )
        engine = engines.load(flow, engine="parallel", executor=executor, backend=backend)
        engine.run()
        fresh = persistence.fetch(url)
        with contextlib.closing(fresh), contextlib.closing(fresh.get_connection()) as conn:
            stored = conn.get_flow_details(engine.storage.flow_uuid)
        results = {a.name: (a.state, a.results) for a in stored if not a.name.startswith("_")}
        assert results["kill-leader"] == (states.SUCCESS, "killed")
        assert {name: value for name, value in results.items() if name != "kill-leader"} == {
            f"{side}-{i}": (states.SUCCESS, f"{side}-{i}") for side in ("before", "after") for i in range(5)
        }
        assert stored.state == states.SUCCESS
    finally:
        executor.shutdown()
        backend.close()
        ensemble.stop()
