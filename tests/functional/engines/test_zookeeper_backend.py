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
