"""Bounds held in ZooKeeper (kazoo's Semaphore recipe): shared by separate clients, freed with a lost session."""

from __future__ import annotations

import threading
import time
from concurrent import futures

import pytest
from kazoo.client import KazooClient

from opsflow.tasks import slots
from tests.fixtures import eventually

pytestmark = [pytest.mark.functional]


def _client(hosts: str) -> KazooClient:
    client = KazooClient(hosts=hosts, timeout=2.0)
    client.start(timeout=10)
    return client


def test_a_zookeeper_bound_holds_across_clients_and_frees_a_dead_holders_slot(zookeeper_hosts: str,
                                                                               zk_chroot: str) -> None:
    """Two clients (two conductors, as far as ZooKeeper knows) with four holders each never exceed a
    bound of 2; a holder whose session ends (kill -9) gives its slot back without releasing it."""
    clients = [_client(zookeeper_hosts) for _ in range(3)]
    try:
        lock, now, peak = threading.Lock(), [0], [0]
        bound = slots.Bound("forklift/transfers", 2)

        def work(client: KazooClient) -> None:
            with slots.ZooKeeperSlots(client, f"{zk_chroot}/slots").hold([bound], "test"):
                with lock:
                    now[0] += 1
                    peak[0] = max(peak[0], now[0])
                time.sleep(0.1)
                with lock:
                    now[0] -= 1

        with futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(work, [clients[0], clients[1]] * 4))
        assert peak[0] == 2

        dying = clients.pop()
        holder = slots.ZooKeeperSlots(dying, f"{zk_chroot}/slots").hold([slots.Bound("x", 1)], "dying")
        holder.__enter__()  # held and never released: its process is about to die
        waiter = threading.Thread(target=lambda: _work_x(clients[0], zk_chroot))
        waiter.start()
        time.sleep(0.5)
        assert waiter.is_alive(), "the slot should still be taken"
        dying.stop()  # the session ends, as with a conductor killed -9
        dying.close()
        eventually(lambda: not waiter.is_alive(), 30, "the waiter got the dead holder's slot")
    finally:
        for client in clients:
            client.stop()
            client.close()


def _work_x(client: KazooClient, root: str) -> None:
    """Take bound x (limit 1) once."""
    with slots.ZooKeeperSlots(client, f"{root}/slots").hold([slots.Bound("x", 1)], "waiter"):
        pass


class _Frozen:
    """Every client's wall clock, stopped: the waits then depend on the bucket's shared state alone."""

    def __call__(self) -> float:
        return 5000.0


def test_a_zookeeper_rate_is_one_bucket_for_every_client(zookeeper_hosts: str, zk_chroot: str) -> None:
    """40 reservations of one unit at 10 a second, from eight threads over two clients at once: exactly one
    second's burst waits nothing and every other one waits 0.1 s longer than the one before -- no
    reservation lost or counted twice by the concurrent compare-and-set -- and the rate's node holds the
    bucket's arrival time 4 s ahead."""
    clients = [_client(zookeeper_hosts) for _ in range(2)]
    try:
        rate = slots.Rate("forklift/api/devcloud-source", 10)
        ends = [slots.ZooKeeperSlots(client, f"{zk_chroot}/slots", clock=_Frozen()) for client in clients]
        with futures.ThreadPoolExecutor(8) as pool:
            waits = sorted(pool.map(lambda i: ends[i % 2].reserve(rate, 1), range(40)))
        assert waits[:10] == pytest.approx([0.0] * 10, abs=1e-6)
        assert waits[10:] == pytest.approx([0.1 * k for k in range(1, 31)], abs=1e-6)
        data, _ = clients[0].get(f"{zk_chroot}/slots/{slots.ZooKeeperSlots.RATES}/{rate.node}")
        assert float(data) == pytest.approx(5004.0)
    finally:
        for client in clients:
            client.stop()
            client.close()
