"""A small linear flow whose tasks log each run, for the persistence suite's engine tests.

Run as a script it executes the flow on a stored flow detail: the kill -9 test starts it, waits
until the ``slow`` task runs (it blocks until the ``block`` file exists) and kills it.
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path
from typing import Any

import futurist
from taskflow import engines, task
from taskflow.patterns import linear_flow

#: The tasks in order; ``slow`` blocks while the block file is missing.
STEPS = ("prepare", "copy", "slow", "verify")


class Step(task.Task):  # type: ignore[misc]
    """Appends its name to the log, returns it upper-cased."""

    def __init__(self, name: str, log: Path | None, block: Path | None) -> None:
        super().__init__(name=name, provides=name)
        self._log = log
        self._block = block

    def execute(self) -> str:
        if self._log is not None:
            with open(self._log, "a") as out:
                out.write(f"{self.name}\n")
        if self.name == "slow" and self._block is not None:
            deadline = time.monotonic() + 120
            while not self._block.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        return str(self.name).upper()


def make_flow(log: Path | None, block: Path | None) -> Any:
    """The linear flow of ``STEPS``."""
    return linear_flow.Flow("resume").add(*(Step(name, log, block) for name in STEPS))


def run(backend: Any, book_uuid: str, flow_uuid: str, log: Path, block: Path) -> None:
    """Run (or resume) the flow on the stored flow detail, on a parallel engine."""
    with contextlib.closing(backend.get_connection()) as conn:
        book = conn.get_logbook(book_uuid)
    executor = futurist.ThreadPoolExecutor(max_workers=2)
    try:
        engine = engines.load(
            make_flow(log, block), flow_detail=book.find(flow_uuid), book=book, backend=backend,
            engine="parallel", executor=executor,
        )
        engine.run()
    finally:
        executor.shutdown()
        backend.close()


if __name__ == "__main__":
    from opsflow.engines import persistence

    url, book_id, flow_id, log_path, block_path = sys.argv[1:6]
    run(persistence.fetch(url), book_id, flow_id, Path(log_path), Path(block_path))
