"""Pruning keeps ZooKeeper's node count flat: a pruned run leaves no node of its own behind."""

from collections.abc import Iterator

import pytest
from kazoo.client import KazooClient

from opsflow.engines import retention
from opsflow.engines.records import RunState
from opsflow.engines.runner import Runner
from opsflow.flows import loader
from tests.fixtures import APPROVAL, chain, count_nodes, eventually

pytestmark = pytest.mark.functional


@pytest.fixture
def zk(zookeeper_hosts: str) -> Iterator[KazooClient]:
    client = KazooClient(hosts=zookeeper_hosts)
    client.start(timeout=10)
    yield client
    client.stop()
    client.close()



def test_node_count_is_flat_after_many_runs_are_pruned(zookeeper_hosts: str, zk_chroot: str, zk: KazooClient) -> None:
    """Forty runs (each with a signal) add hundreds of nodes; pruning them brings the count back to where it was."""
    with Runner(f"zookeeper://{zookeeper_hosts}{zk_chroot}/state") as runner:
        def some_runs(count: int) -> list[str]:
            ids = []
            for _ in range(count):
                ids.append(runner.run(chain(), {}).run_id)
                waiting = runner.run(loader.load_text(APPROVAL), {}, hold_waits=False).run_id
                runner.signal(waiting, "go")
                assert runner.resume(waiting, hold_waits=False).state is RunState.SUCCEEDED
                ids.append(waiting)
            return ids

        some_runs(1)
        runner.prune(retention.Policy(0, 0))
        baseline = count_nodes(zk, zk_chroot)
        ids = some_runs(20)
        grown = count_nodes(zk, zk_chroot)
        pruned = runner.prune(retention.Policy(0, 0))
        after = count_nodes(zk, zk_chroot)
        assert sorted(r.run_id for r in pruned) == sorted(ids)
        assert grown > baseline + 20 * 2 * 5
        assert after == baseline, f"{baseline} nodes before, {grown} with 40 runs, {after} after pruning them"
        listed = {r.run_id: r for r in runner.runs()}
        assert all(listed[i].pruned_at is not None and listed[i].state is RunState.SUCCEEDED for i in ids)


def test_listing_and_pruning_many_runs_wait_for_a_few_round_trips_not_several_per_run(
        zookeeper_hosts: str, zk_chroot: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A conductor prunes hundreds of runs while others load the ensemble: one round trip per run
    made a pass take minutes there (CI's soak saw none finish in three). Runs are loaded and deleted
    a batch at a time, so the round trips do not grow with the runs."""
    from opsflow.engines.persistence._kazoo import Session

    round_trips = []
    gather = Session.gather
    monkeypatch.setattr(Session, "gather", lambda self, *args, **kwargs: round_trips.append(1) or gather(
        self, *args, **kwargs))
    with Runner(f"zookeeper://{zookeeper_hosts}{zk_chroot}/state") as runner:
        ids = [runner.run(chain(), {}).run_id for _ in range(120)]
        waiting = runner.run(loader.load_text(APPROVAL), {}, hold_waits=False).run_id
        runner.signal(waiting, "go")
        runner.resume(waiting, hold_waits=False)
        round_trips.clear()
        listed = runner.runs()
        listing = len(round_trips)
        round_trips.clear()
        pruned = runner.prune(retention.Policy(0, 0))
        pruning = len(round_trips)
    assert {r.run_id for r in listed} >= {*ids, waiting}
    assert sorted(r.run_id for r in pruned) == sorted([*ids, waiting])
    assert listing <= 10 and pruning <= 30, f"{listing} round trips to list 121 runs, {pruning} to prune them"


def test_a_lost_release_of_the_prune_lock_does_not_stop_pruning(zookeeper_hosts: str, zk_chroot: str) -> None:
    """The connection drops just as a conductor releases the prune lock (its session lives on): its
    next period deletes the lock node first and prunes again, and no lock node outlives the pruner.

    The drop is simulated (a stand-in lock whose first release raises ConnectionLoss, as kazoo's
    does then): ZooKeeper cannot be made to lose one delete on cue."""
    from kazoo.exceptions import ConnectionLoss
    from kazoo.recipe.lock import Lock

    from opsflow.engines.jobboard import Address, JobBoard

    class DropsFirstRelease(Lock):  # type: ignore[misc]
        dropped = False

        def release(self) -> bool:
            if not DropsFirstRelease.dropped:
                DropsFirstRelease.dropped = True
                raise ConnectionLoss("connection lost while releasing (simulated)")
            return bool(super().release())

    board = JobBoard(Address.parse(f"{zookeeper_hosts}{zk_chroot}"))
    pruned: list[float] = []
    board.client.Lock = lambda path: DropsFirstRelease(board.client, path)  # type: ignore[method-assign]
    pruner = retention.Pruner(lambda: pruned.append(1), board, every=0.1)
    try:
        pruner.start()
        eventually(lambda: len(pruned) >= 3, 30, "pruning going on after the lost release")
    finally:
        pruner.stop()
    lock_path = f"{board.address.root}/{retention.Pruner.LOCK}"
    assert DropsFirstRelease.dropped and board.client.get_children(lock_path) == []
    board.close()


def test_the_board_sweep_lists_the_stored_runs_once_instead_of_loading_each_leased_run(
        zookeeper_hosts: str, zk_chroot: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every run that ran keeps its lease node; a sweep judges them all by one listing of the stored
    runs, loads none of their details, and drops only the lease whose run is gone."""
    from opsflow.engines import persistence, records
    from opsflow.engines.jobboard import Address, JobBoard

    address = Address.parse(f"{zookeeper_hosts}{zk_chroot}")
    with JobBoard(address) as board, Runner(address.state_url) as runner:
        ids = [runner.run(chain(), {}).run_id for _ in range(5)]
        orphan = f"{address.root}/state/leases/no-such-run"
        board.client.create(orphan, b'{"holder": null, "token": 3}')
        listings: list[int] = []
        loads: list[str] = []
        list_runs, load_detail = records.run_ids, records.load_detail
        monkeypatch.setattr(records, "run_ids", lambda backend: listings.append(1) or list_runs(backend))
        monkeypatch.setattr(records, "load_detail",
                            lambda backend, run_id, where: loads.append(run_id) or load_detail(backend, run_id, where))
        backend = persistence.fetch(address.state_url)
        try:
            assert retention.sweep_board(board, backend, address.state_url) == 1
        finally:
            backend.close()
        assert (len(listings), loads) == (1, [])
        assert board.client.exists(orphan) is None
        assert sorted(runner.leases()) == sorted(ids)
