"""Bounds on transfers at once and rates, in one process (the conductors' ZooKeeper ones are tested functionally)."""

from __future__ import annotations

import threading
import time
from concurrent import futures

import pytest

from opsflow.errors import ActionFailed
from opsflow.tasks import objects, slots
from opsflow.tasks.migration import byte_rates, transfer_bounds
from tests.fixtures import recorded_slots


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


def test_a_recording_of_holds_shows_each_bounds_peak() -> None:
    """What the functional batches assert their bounds with: the holds recorded, and their peaks."""
    total, host = slots.Bound("t/total", 2), slots.Bound("t/host", 1)
    with recorded_slots() as recording:
        _peak([[total, host] if i % 2 else [total] for i in range(6)], "t/total")
    assert recording.peaks() == {total: 2, host: 1}
    assert len(recording.held) == 6 + 3


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


class _Clock:
    """A wall clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_rate_lets_a_seconds_burst_through_at_once_then_spaces_the_rest() -> None:
    """At 10 a second, the first 10 of 20 reservations made together wait nothing and the 20th waits 1 s;
    after a pause the bucket is full again."""
    clock = _Clock()
    local = slots.LocalSlots(clock)
    rate = slots.Rate("forklift/api/a", 10)
    waits = [local.reserve(rate, 1) for _ in range(20)]
    assert waits[:10] == pytest.approx([0.0] * 10)
    assert waits[10:] == pytest.approx([0.1 * k for k in range(1, 11)])
    clock.now += 5.0
    assert local.reserve(rate, 10) == pytest.approx(0.0) and local.reserve(rate, 1) == pytest.approx(0.1)


def test_a_rate_paces_units_not_calls_and_keeps_keys_apart() -> None:
    """Bytes cost their number: 3 MiB at 1 MiB/s waits 2 s (one second's burst), and another host's bucket is its own."""
    local = slots.LocalSlots(_Clock())
    mib = 1 << 20
    assert local.reserve(slots.Rate("b/h1", mib), 3 * mib) == pytest.approx(2.0)
    assert local.reserve(slots.Rate("b/h2", mib), mib) == 0.0
    assert local.reserve(slots.Rate("b/h1", mib), mib) == pytest.approx(3.0)


def test_pace_sleeps_for_the_slowest_of_its_rates() -> None:
    """A chunk leaving one host and reaching another waits for whichever bucket is emptier, here none."""
    previous = slots.use(slots.LocalSlots())
    try:
        assert slots.pace([slots.Rate("p/a", 1000), slots.Rate("p/b", 10)], 5) == 0.0
        assert slots.pace([], 5) == 0.0
    finally:
        slots.use(previous)


def test_byte_rates_are_those_of_the_enclosing_pacing_only() -> None:
    """A streamer outside any pacing streams at full speed; inside, it sees the rates, and they end with the block."""
    rate = slots.Rate("forklift/bytes/source/a/h1", 100)
    assert slots.byte_rates() == ()
    with slots.pacing([rate]):
        assert slots.byte_rates() == (rate,)
    assert slots.byte_rates() == ()


def test_byte_rates_pace_each_known_host_and_nothing_when_unset() -> None:
    """bytes_per_second_per_host gives the source host and the destination host a bucket each; an unknown host none."""
    limits = {"bytes_per_second_per_host": 1000, "transfers": 2}
    assert byte_rates(limits, "a", "h1", "b", "h2") == [
        slots.Rate("forklift/bytes/source/a/h1", 1000), slots.Rate("forklift/bytes/destination/b/h2", 1000)]
    assert byte_rates(limits, "a", "", "b", "h2") == [slots.Rate("forklift/bytes/destination/b/h2", 1000)]
    assert byte_rates({"transfers": 2}, "a", "h1", "b", "h2") == []
    assert transfer_bounds({"api_calls_per_second": 5, "bytes_per_second_per_host": 9}, "a", "h1", "b", "h2") == []


def test_a_rate_names_a_safe_zookeeper_node_and_refuses_zero() -> None:
    """As for bounds: one path segment, the rate kept apart, so runs with different rates use different buckets."""
    assert slots.Rate("forklift/api/dev cloud", 20).node == "forklift_api_dev_cloud@20"
    with pytest.raises(ValueError):
        slots.Rate("x", 0)


def test_hibernation_bounds_take_the_cloud_and_a_known_host() -> None:
    """A disk-moving step of hibernate or restore holds the cloud's bound, and its host's when known."""
    limits = {"per_cloud": 4, "per_host": 1}
    assert objects.bounds(limits, "c", "h1") == [slots.Bound("hibernation/c", 4), slots.Bound("hibernation/c/h1", 1)]
    assert objects.bounds(limits, "c") == [slots.Bound("hibernation/c", 4)]
    assert objects.bounds({"per_host": None}, "c", "h1") == [] == objects.bounds(None, "c", "h1")


@pytest.mark.parametrize("limits", [{"per_cloud": 0}, {"per_hosts": 1}, {"transfers": 2}])
def test_bad_hibernation_limits_name_the_key_and_the_known_ones(limits: dict[str, object]) -> None:
    """A mistyped limit says which key and which keys there are."""
    with pytest.raises(ActionFailed, match="limits.*per_cloud|limits.per_cloud"):
        objects.bounds(limits, "c", "h1")
