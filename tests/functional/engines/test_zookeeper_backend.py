"""Behaviour specific to opsflow's ZooKeeper backend: batching and its limits."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kazoo.client import KazooClient
from taskflow import exceptions as tf_exc
from taskflow import states
from taskflow.persistence import models

from opsflow.engines import persistence
from opsflow.engines.lease import Holder
from opsflow.errors import LeaseLost

pytestmark = pytest.mark.functional


@pytest.fixture
def stored(zookeeper_hosts: str, zk_chroot: str) -> Iterator[tuple[Any, Any, Any]]:
    """A connection to a fresh chroot holding one flow of two pending tasks, and those tasks."""
    backend = persistence.fetch(f"zookeeper://{zookeeper_hosts}{zk_chroot}")
    book = models.LogBook("book")
    flow = models.FlowDetail("flow", uuid=str(uuid.uuid4()))
    first, second = models.TaskDetail("first", str(uuid.uuid4())), models.TaskDetail("second", str(uuid.uuid4()))
    flow.add(first)
    flow.add(second)
    book.add(flow)
    with contextlib.closing(backend), contextlib.closing(backend.get_connection()) as conn:
        conn.save_logbook(book)
        yield conn, first.copy(), second.copy()


def test_awaited_update_survives_a_written_behind_update_of_a_deleted_atom(
    stored: tuple[Any, Any, Any], zookeeper_hosts: str, zk_chroot: str
) -> None:
    """An atom deleted by someone else costs only its own buffered write, not the next awaited one."""
    conn, first, second = stored
    first.put(states.RUNNING, None)
    conn.update_atom_details(first)  # written behind: buffered
    other = KazooClient(hosts=zookeeper_hosts)
    other.start(timeout=10)
    try:
        other.delete(f"{zk_chroot}/atoms/{first.uuid}")
    finally:
        other.stop()
        other.close()
    second.put(states.SUCCESS, 42)
    conn.update_atom_details(second)
    assert conn.get_atom_details(second.uuid).results == 42


def test_result_too_big_for_a_node_is_refused_with_advice(stored: tuple[Any, Any, Any]) -> None:
    """A result over ZooKeeper's node limit fails clearly instead of dropping the session."""
    conn, first, _second = stored
    first.put(states.SUCCESS, "x" * 1_100_000)
    with pytest.raises(tf_exc.StorageFailure, match="keep large results elsewhere"):
        conn.update_atom_details(first)
    first.put(states.SUCCESS, "small")
    conn.update_atom_details(first)
    assert conn.get_atom_details(first.uuid).results == "small"


def test_many_buffered_updates_are_sent_in_size_bounded_requests(stored: tuple[Any, Any, Any]) -> None:
    """Progress updates of many atoms, each near the node limit, all reach ZooKeeper."""
    conn, first, second = stored
    for atom in (first, second):
        atom.put(states.SUCCESS, "r" * 600_000)
        conn.update_atom_details(atom)
    for atom in (first, second):
        atom.meta["progress"] = 1.0
        conn.update_atom_details(atom)  # progress only: written behind
    assert [conn.get_atom_details(a.uuid).meta for a in (first, second)] == [{"progress": 1.0}] * 2


def _atoms_stored(zookeeper_hosts: str, zk_chroot: str) -> list[str]:
    other = KazooClient(hosts=zookeeper_hosts)
    other.start(timeout=10)
    try:
        return sorted(other.get_children(f"{zk_chroot}/atoms"))
    finally:
        other.stop()
        other.close()


def test_an_atom_added_as_its_run_is_deleted_leaves_no_orphan_atom(
    stored: tuple[Any, Any, Any], zookeeper_hosts: str, zk_chroot: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stale conductor loading a run (TaskFlow adds its inputs atom) as a prune deletes it gets
    NotFound and stores nothing: an atom without its flow detail would outlive every prune."""
    conn, _first, _second = stored
    book = next(iter(conn.get_logbooks()))
    flow = next(iter(book))
    before = _atoms_stored(zookeeper_hosts, zk_chroot)
    write_atoms = conn._write_atoms

    def pruned_meanwhile(flow_detail: Any, linked: set[str]) -> None:
        pruner = persistence.fetch(f"zookeeper://{zookeeper_hosts}{zk_chroot}")
        with contextlib.closing(pruner), contextlib.closing(pruner.get_connection()) as other:
            other.destroy_logbook(book.uuid)
        write_atoms(flow_detail, linked)

    monkeypatch.setattr(conn, "_write_atoms", pruned_meanwhile)
    flow.add(models.TaskDetail("_TaskFlow_INJECTOR", str(uuid.uuid4())))
    with pytest.raises(tf_exc.NotFound):
        conn.update_flow_details(flow)
    assert before and _atoms_stored(zookeeper_hosts, zk_chroot) == []


def test_atoms_an_earlier_attempt_stored_are_adopted_and_the_rest_created(
    stored: tuple[Any, Any, Any], zookeeper_hosts: str, zk_chroot: str
) -> None:
    """A flow saved again with atoms already stored (its first save got through, the reply was lost)
    overwrites those and creates the new ones with their links."""
    conn, first, _second = stored
    flow = next(iter(next(iter(conn.get_logbooks()))))
    added = models.TaskDetail("third", str(uuid.uuid4()))
    flow.add(added)
    for atom in flow:
        if atom.uuid == first.uuid:
            atom.put(states.SUCCESS, "again")
    conn._write_atoms(flow, set())  # as if nothing were linked yet: every create collides but the new one's
    assert conn.get_atom_details(first.uuid).results == "again"
    assert {a.name for a in conn.get_flow_details(flow.uuid)} == {"first", "second", "third"}


def test_a_changed_atom_set_after_its_runs_lease_node_went_raises_lease_lost(
    stored: tuple[Any, Any, Any], zookeeper_hosts: str, zk_chroot: str
) -> None:
    """An owner whose lease node was deleted (its run pruned with its lease) is told LeaseLost when it
    sets an atom, rather than having the write dropped silently and driving on a run nobody holds."""
    conn, first, _second = stored
    flow = next(iter(next(iter(conn.get_logbooks()))))
    conn._backend.take_lease(flow.uuid, Holder.this_process(), ttl=60)
    linked = {atom.uuid for atom in flow}
    other = KazooClient(hosts=zookeeper_hosts)
    other.start(timeout=10)
    try:
        other.delete(f"{zk_chroot}/leases/{flow.uuid}", recursive=True)
    finally:
        other.stop()
        other.close()
    for atom in flow:
        if atom.uuid == first.uuid:
            atom.put(states.SUCCESS, "late")
    with pytest.raises(LeaseLost):
        conn._write_atoms(flow, linked)
    assert conn.get_atom_details(first.uuid).results is None
