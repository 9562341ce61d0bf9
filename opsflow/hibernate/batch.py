"""Run one flow per server, at most so many at once per hypervisor host and per cloud.

Each server gets a run of its own (its own id in ``opsflow flows list``, its own revert), as child
runs would give; until child runs land on ``main`` the bound is kept here, in this process: a pool
of ``per_cloud`` workers, and a semaphore per host taken before a run starts, so a full hypervisor
is never asked to snapshot and upload ten disks at the same moment. A failed run reverts alone;
the others go on.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opsflow.engines.records import RunRecord

__all__ = ["Item", "Outcome", "run_all"]

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Item:
    """One run to make."""

    #: What the operator calls it (a server or copy name), for the report.
    label: str
    #: Host whose bound applies ("" for none).
    host: str
    #: The run's inputs.
    inputs: Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How one item's run ended."""

    #: The item.
    item: Item
    #: Its run, or None when it could not even start.
    record: RunRecord | None
    #: Why it could not start ("" when it ran).
    error: str = ""


def run_all(items: Sequence[Item], run: Callable[[Mapping[str, Any]], RunRecord], *, per_host: int,
            per_cloud: int) -> list[Outcome]:
    """Run ``run(item.inputs)`` for every item within the bounds; outcomes in item order."""
    hosts: dict[str, threading.Semaphore] = {}
    lock = threading.Lock()

    def one(item: Item) -> Outcome:
        with lock:
            bound = hosts.setdefault(item.host, threading.Semaphore(per_host if item.host else per_cloud))
        with bound:
            try:
                return Outcome(item, run(item.inputs))
            except Exception as exc:  # one server's bad input must not stop the batch
                LOG.warning("%s: %s", item.label, exc)
                return Outcome(item, None, str(exc))

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, per_cloud), thread_name_prefix="batch") as pool:
        return list(pool.map(one, items))
