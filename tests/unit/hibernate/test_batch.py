"""Batches: one run per item, never more at once per host or in all than the bounds allow."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from opsflow.engines.records import RunRecord, RunState
from opsflow.hibernate import batch


class _Counter:
    """Counts runs in flight, overall and per host (a stand-in for the flow runner, no service behind it)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.total = 0
        self.peak_total = 0

    def __call__(self, inputs: Mapping[str, Any]) -> RunRecord:
        host = str(inputs["host"])
        with self.lock:
            self.now[host] = self.now.get(host, 0) + 1
            self.total += 1
            self.peak[host] = max(self.peak.get(host, 0), self.now[host])
            self.peak_total = max(self.peak_total, self.total)
        time.sleep(0.05)
        with self.lock:
            self.now[host] -= 1
            self.total -= 1
        if inputs.get("bad"):
            raise ValueError("no such server")
        return RunRecord(run_id=str(inputs["n"]), name="hibernate", state=RunState.SUCCEEDED, inputs=inputs,
                         created=0.0, tasks=(), waits={})


def test_bounds_per_host_and_in_all_hold_and_order_is_kept() -> None:
    """Twelve runs on three hosts, two per host and four in all: the peaks never exceed the bounds."""
    items = [batch.Item(f"vm-{n}", f"h{n % 3}", {"n": n, "host": f"h{n % 3}"}) for n in range(12)]
    counter = _Counter()
    outcomes = batch.run_all(items, counter, per_host=2, per_cloud=4)
    assert [o.item.label for o in outcomes] == [i.label for i in items]
    assert max(counter.peak.values()) <= 2 and counter.peak_total <= 4
    assert all(o.record is not None and o.record.state is RunState.SUCCEEDED for o in outcomes)


def test_an_item_that_cannot_start_does_not_stop_the_others() -> None:
    """A run that raises is reported with its error; the rest still run."""
    items = [batch.Item("bad", "h", {"n": 0, "host": "h", "bad": True}), batch.Item("ok", "h", {"n": 1, "host": "h"})]
    outcomes = batch.run_all(items, _Counter(), per_host=1, per_cloud=2)
    assert (outcomes[0].record, outcomes[0].error) == (None, "no such server")
    assert outcomes[1].record is not None
