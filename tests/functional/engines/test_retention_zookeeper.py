"""Pruning keeps ZooKeeper's node count flat: a pruned run leaves no node of its own behind."""

import time
from collections.abc import Iterator

import pytest
from kazoo.client import KazooClient

from opsflow.engines import retention
from opsflow.engines.records import RunState
from opsflow.engines.runner import Runner
from opsflow.errors import StorageUnavailable
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


def test_a_prune_cut_short_after_the_flow_details_went_is_finished_by_the_next_one(
        zookeeper_hosts: str, zk_chroot: str, zk: KazooClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ZooKeeper restart in the middle of a prune once left the runs' logbook nodes and leases
    without their flow details: no listing showed them as runs, so no later prune found them (a
    soak kept 240 such nodes for good). The next prune finishes what was cut short."""
    from opsflow.engines.persistence.impl_zookeeper import Connection

    with Runner(f"zookeeper://{zookeeper_hosts}{zk_chroot}/state") as runner:
        runner.run(chain(), {})
        runner.prune(retention.Policy(0, 0))
        baseline = count_nodes(zk, zk_chroot)
        ids = [runner.run(chain(), {}).run_id for _ in range(3)]
        delete = Connection._delete

        def restart_before_the_books(self: Connection, paths: list[str]) -> None:
            delete(self, [path for path in paths if path.rsplit("/", 1)[0] != f"{zk_chroot}/state/books"])
            raise StorageUnavailable("ZooKeeper restarted")

        with monkeypatch.context() as patched:
            patched.setattr(Connection, "_delete", restart_before_the_books)
            with pytest.raises(StorageUnavailable):
                runner.prune(retention.Policy(0, 0))
        assert sorted(zk.get_children(f"{zk_chroot}/state/books")) == sorted(ids)
        runner.prune(retention.Policy(0, 0))
        assert count_nodes(zk, zk_chroot) == baseline
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


def test_a_lost_give_back_of_the_prune_turn_does_not_stop_pruning(zookeeper_hosts: str, zk_chroot: str) -> None:
    """The connection drops just as a conductor gives its prune turn back (its session lives on, and
    so does the turn node): its next period finds the node its own and prunes again, and no turn
    node outlives the pruner.

    The drop is simulated (the first give-back raises ConnectionLoss before deleting, as kazoo
    does then): ZooKeeper cannot be made to lose one delete on cue."""
    from kazoo.exceptions import ConnectionLoss

    from opsflow.engines.jobboard import Address, JobBoard

    board = JobBoard(Address.parse(f"{zookeeper_hosts}{zk_chroot}"))
    pruned: list[float] = []
    pruner = retention.Pruner(lambda: pruned.append(1), board, every=0.1, who="c1")
    give_back, dropped = pruner.turn.give_back, list[int]()

    def drops_first() -> None:
        if not dropped:
            dropped.append(1)
            raise ConnectionLoss("connection lost while giving the turn back (simulated)")
        give_back()

    pruner.turn.give_back = drops_first  # type: ignore[method-assign]
    try:
        pruner.start()
        eventually(lambda: len(pruned) >= 3, 30, "pruning going on after the lost give-back")
    finally:
        pruner.stop()
    assert dropped and board.client.exists(pruner.turn.path) is None
    board.close()


def test_a_turn_its_holder_never_gives_back_is_taken_over_once_overdue(zookeeper_hosts: str,
                                                                        zk_chroot: str) -> None:
    """A pruner hung with the turn in a live session (seen in a soak, inside kazoo's lock recipe)
    stops the others only until the turn is overdue: then one takes it over, names itself, prunes."""
    from opsflow.engines.jobboard import Address, JobBoard

    board = JobBoard(Address.parse(f"{zookeeper_hosts}{zk_chroot}"))
    pruned: list[str | None] = []
    pruner: retention.Pruner = retention.Pruner(lambda: pruned.append(pruner.turn.holder()), board, every=0.1,
                                                who="c2", stale_after=2.0)
    hung = KazooClient(hosts=zookeeper_hosts)
    hung.start(timeout=30)
    try:
        hung.create(pruner.turn.path, b"c1", ephemeral=True, makepath=True)
        pruner.start()
        time.sleep(1.0)
        assert pruned == [] and pruner.turn.holder() == "c1"
        eventually(lambda: len(pruned) >= 2, 30, "pruning once the hung turn is overdue")
        assert set(pruned) == {"c2"}
    finally:
        pruner.stop()
        hung.stop()
        hung.close()
    assert board.client.exists(pruner.turn.path) is None
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
