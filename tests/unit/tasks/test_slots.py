"""Bounds on transfers at once, in one process (the conductors' ZooKeeper bounds are tested functionally)."""

from __future__ import annotations

import threading
import time
from concurrent import futures

import pytest

from opsflow.errors import ActionFailed
from opsflow.tasks import slots
from opsflow.tasks.migration import transfer_bounds


def _peak(bounds_of: list[list[slots.Bound]], key: str) -> int:
    """Run one short holder per entry at once; the most holders of ``key`` seen together."""
    lock = threading.Lock()
    now: dict[str, int] = {}
    peak: dict[str, int] = {}

    def work(bounds: list[slots.Bound]) -> None:
        with slots.hold(bounds, "test"):
            with lock:
                for bound in bounds:
                    now[bound.key] = now.get(bound.key, 0) + 1
                    peak[bound.key] = max(peak.get(bound.key, 0), now[bound.key])
            time.sleep(0.02)
            with lock:
                for bound in bounds:
                    now[bound.key] -= 1

    with futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(work, bounds_of))
    return peak[key]


def test_a_local_bound_lets_at_most_its_limit_hold_at_once() -> None:
    """Twelve holders of a bound of 3 (with per-host bounds of 2 taken in any order): never more than the limits."""
    total = slots.Bound("t/total", 3)
    hosts = [slots.Bound(f"t/host-{i % 2}", 2) for i in range(12)]
    entries = [[hosts[i], total] if i % 3 else [total, hosts[i]] for i in range(12)]
    assert _peak(entries, "t/total") == 3
    assert _peak(entries, "t/host-0") <= 2


def test_transfer_bounds_take_the_total_and_each_known_host() -> None:
    """A host the credentials do not show is bounded by the total alone; a limit left out is no bound."""
    limits = {"transfers": 4, "per_source_host": 1, "per_destination_host": 2}
    assert transfer_bounds(limits, "a", "h1", "b", "h2") == [
        slots.Bound("forklift/transfers", 4), slots.Bound("forklift/source/a/h1", 1),
        slots.Bound("forklift/destination/b/h2", 2)]
    assert transfer_bounds(limits, "a", "", "b", "") == [slots.Bound("forklift/transfers", 4)]
    assert transfer_bounds({"per_source_host": 1}, "a", "h1", "b", "h2") == [slots.Bound("forklift/source/a/h1", 1)]
    assert transfer_bounds({}, "a", "h1", "b", "h2") == []


@pytest.mark.parametrize("limits", [{"transfers": 0}, {"transfers": "2"}, {"per_host": 1}, {"transfers": True}])
def test_bad_limits_fail_the_transfer_naming_the_key(limits: dict[str, object]) -> None:
    """A mistyped limit in a hand-written run is one message saying which key and what to give."""
    with pytest.raises(ActionFailed, match="limits"):
        transfer_bounds(limits, "a", "h1", "b", "h2")


def test_a_bound_names_a_safe_zookeeper_node_with_its_limit() -> None:
    """Keys with slashes become one path segment, the limit kept apart (kazoo fixes a semaphore's limit)."""
    assert slots.Bound("forklift/source/dev cloud/h1", 2).node == "forklift_source_dev_cloud_h1@2"
    with pytest.raises(ValueError):
        slots.Bound("x", 0)
