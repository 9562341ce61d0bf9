"""Run leases on the SQLite backend: one owner at a time, a growing token, writes fenced by it."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from taskflow.persistence import models

from opsflow.engines.lease import Holder, Lease
from opsflow.engines.persistence.impl_sqlite import SQLiteBackend
from opsflow.errors import LeaseLost, RunOwned
from tests.fixtures import eventually


def _backend(tmp_path: Path) -> SQLiteBackend:
    return SQLiteBackend({"path": str(tmp_path / "state.db")})


def _stored_run(backend: SQLiteBackend, run_id: str = "run-1") -> models.FlowDetail:
    book = models.LogBook("demo", uuid=run_id)
    flow = models.FlowDetail("demo", uuid=run_id)
    flow.add(models.TaskDetail("step", "atom-1"))
    book.add(flow)
    backend.get_connection().save_logbook(book)
    return flow


def _dead_holder() -> Holder:
    """A holder of this host whose process has ended (a real child that exited)."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return dataclasses.replace(Holder.this_process(), pid=int(child.stdout))


def test_a_second_taker_is_refused_naming_the_owner_and_when_its_lease_lapses(tmp_path: Path) -> None:
    """While a live process holds the lease, another take raises RunOwned with pid@host and an expiry."""
    first, second = _backend(tmp_path), _backend(tmp_path)
    _stored_run(first)
    with Lease(first, "run-1", Holder.this_process()):
        with pytest.raises(RunOwned) as refused:
            Lease(second, "run-1", Holder.this_process(conductor="c2")).take()
    assert refused.value.owner == Holder.this_process().describe()
    assert refused.value.expires is not None and "lapses at" in str(refused.value)


def test_released_lease_is_taken_with_a_higher_token(tmp_path: Path) -> None:
    """Each new owner gets a token above every earlier one's."""
    backend = _backend(tmp_path)
    with Lease(backend, "run-1", Holder.this_process()) as first:
        pass
    with Lease(backend, "run-1", Holder.this_process()) as second:
        assert second.token == first.token + 1
    assert backend.read_lease("run-1").owner is None  # type: ignore[union-attr]


def test_a_dead_local_holder_frees_the_lease_at_once(tmp_path: Path) -> None:
    """A lease held by a process of this host that has exited is taken without waiting for it to expire."""
    backend = _backend(tmp_path)
    dead = _dead_holder()
    backend.take_lease("run-1", dead, ttl=3600)
    assert backend.read_lease("run-1").owner.endswith("(lapsed)")  # type: ignore[union-attr]
    with Lease(backend, "run-1", Holder.this_process()) as lease:
        assert lease.token == 2
        assert backend.read_lease("run-1").owner.endswith("(live)")  # type: ignore[union-attr]


def test_a_step_of_the_wall_clock_leaves_a_live_holder_live(tmp_path: Path, clock_step: Callable[[], None]) -> None:
    """The holder's start is in clock ticks since boot: after the clock stepped its lease still reads live."""
    first, second = _backend(tmp_path), _backend(tmp_path)
    _stored_run(first)
    with Lease(first, "run-1", Holder.this_process()):
        clock_step()
        assert second.read_lease("run-1").owner.endswith("(live)")  # type: ignore[union-attr]
        with pytest.raises(RunOwned):
            Lease(second, "run-1", Holder.this_process(conductor="c2")).take()


def test_writes_of_a_process_whose_lease_was_taken_over_raise_lease_lost(tmp_path: Path) -> None:
    """After another owner took the run (expired lease), the old owner's atom and flow writes are refused."""
    old, new = _backend(tmp_path), _backend(tmp_path)
    flow = _stored_run(old)
    old.take_lease("run-1", Holder.this_process(), ttl=0.0)  # expires at once: free for the next owner
    new.take_lease("run-1", dataclasses.replace(Holder.this_process(), conductor="new"), ttl=60)
    atom = flow.find("atom-1")
    atom.state = "RUNNING"
    with pytest.raises(LeaseLost):
        old.get_connection().update_atom_details(atom)
    with pytest.raises(LeaseLost):
        old.get_connection().update_flow_details(flow)
    new.get_connection().update_atom_details(atom)  # the new owner writes as before
    assert new.get_connection().get_atom_details("atom-1").state == "RUNNING"


def test_renewing_a_lease_taken_over_marks_it_lost_and_stops_task_starts(tmp_path: Path) -> None:
    """The heartbeat's renewal finds the newer owner: the lease is lost and may_start says no."""
    old, new = _backend(tmp_path), _backend(tmp_path)
    lease = Lease(old, "run-1", Holder.this_process(), ttl=0.3).take()
    try:
        with new.transaction() as db:  # what another process's take does once the lease lapsed
            db.execute("UPDATE leases SET token = token + 1, holder = ? WHERE run_id = 'run-1'",
                       ('{"pid": 1, "host": "elsewhere", "started": 0, "conductor": "new"}',))
        eventually(lambda: lease.lost, 5, "the heartbeat found the newer owner")
        assert not lease.may_start() and not lease.wait_startable(2.0)
    finally:
        lease.release()
    assert new.read_lease("run-1").holder.conductor == "new"  # type: ignore[union-attr]  # release left it alone


def test_a_lost_lease_vouches_for_no_write_of_others() -> None:
    """Once lost, a lease's fence raises LeaseLost instead of letting a hold be written unconditionally."""

    class FencingStore:  # a stand-in for a ZooKeeper backend's fence_of: nothing real is needed to ask it
        def fence_of(self, run_id: str) -> tuple[str, int]:
            return (f"/leases/{run_id}", 3)

    lease = Lease(FencingStore(), "run-1", Holder.this_process())  # type: ignore[arg-type]
    assert lease.fence == ("/leases/run-1", 3)
    lease.mark_lost("taken over")
    with pytest.raises(LeaseLost):
        lease.fence  # noqa: B018
