"""Conductors prune finished runs by themselves, and leave no hold or job node for a run that is gone."""

import pytest

from opsflow.engines.jobboard import Hold, HoldKind
from opsflow.engines.records import RunState
from tests.fixtures import count_nodes, eventually, opsflow
from tests.functional.conductor.harness import Cluster

pytestmark = [pytest.mark.functional, pytest.mark.slow]

QUICK = """
name: quick
tasks:
  - {name: a, action: core.echo, args: {message: a}}
  - {name: b, action: core.echo, args: {message: b}, after: [a]}
"""



def test_a_conductor_prunes_finished_jobs_and_the_node_count_stays_flat(cluster: Cluster) -> None:
    """With --retain-for 0 a conductor prunes every finished job; twelve jobs later the node count is as before."""
    cluster.start("pruner", "--retain-for", "0", "--prune-every", "1")
    client = cluster.board.client
    root = cluster.address.root

    def all_pruned(ids: list[str]) -> bool:
        return all(cluster.runner.record(i).pruned_at is not None for i in ids)

    first = cluster.submit(QUICK)
    eventually(lambda: all_pruned([first]), 60, "the first job pruned")
    baseline = count_nodes(client, root)
    ids = [cluster.submit(QUICK) for _ in range(12)]
    eventually(lambda: all_pruned(ids), 120, "twelve jobs pruned")
    eventually(lambda: count_nodes(client, root) == baseline, 30, f"the node count back at {baseline}")
    assert {cluster.runner.record(i).state for i in ids} == {RunState.SUCCEEDED}
    assert cluster.board.entries() == [] and cluster.board.holds() == {}


def test_flows_prune_removes_orphan_holds_and_job_nodes(cluster: Cluster, capsys: pytest.CaptureFixture[str]) -> None:
    """A job node left for a finished run, and a hold and a lease of a run that is gone, are removed by
    `flows prune`."""
    done = cluster.submit(QUICK)
    cluster.start("worker", "--prune-every", "0")
    eventually(lambda: cluster.view(done) is None, 60, "the job finished")
    cluster.conductors[0].terminate()
    # What a conductor killed between finishing a run and consuming its job leaves, and a stray hold.
    cluster.board.post(done, "quick", 0.0)
    cluster.board.set_hold(Hold("no-such-run", HoldKind.FAILED))
    # What a run pruned while a stopped conductor still held its lease leaves once that session expires.
    orphan = f"{cluster.board.address.root}/state/leases/no-such-run"
    cluster.board.client.create(orphan, b'{"holder": null, "token": 3}')
    code, out, err = opsflow(capsys, "flows", "prune", "--keep", "0", "--zookeeper", cluster.address_text)
    assert (code, err.strip()) == (0, "pruned 1 finished runs"), out
    assert cluster.board.entries() == [] and cluster.board.holds() == {}
    assert cluster.board.client.exists(orphan) is None
    assert cluster.runner.record(done).pruned_at is not None
