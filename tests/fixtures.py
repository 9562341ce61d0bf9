"""What many test modules share: the flows they run, a poll-with-deadline helper, the CLI in-process.

One place, so a test reads as its behaviour and the helpers cannot drift apart.
"""

from __future__ import annotations

import collections
import contextlib
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError

from opsflow.cli import run_main
from opsflow.errors import BackendUnavailable
from opsflow.flows import loader
from opsflow.flows.model import FlowDefinition
from opsflow.tasks import slots

T = TypeVar("T")

#: The ``opsflow`` command as a subprocess of this interpreter (for runs that get killed).
OPSFLOW = [sys.executable, "-c", "from opsflow.cli import run_main; run_main()"]
#: What the engine logs (with -v) when a task starts executing; group 1 is the task's path.
EXECUTING = re.compile(r"opsflow\.engines\.atoms: (\S+): executing")

#: A run long enough to be killed in the middle: one task, then ``items`` sleeps three at a time, then one.
KILLABLE = """
name: killable
inputs:
  items: {type: list}
tasks:
  - {name: first, action: core.echo, args: {message: start}}
  - name: work
    for_each: ${inputs.items}
    concurrency: 3
    action: core.sleep
    args: {seconds: 0.2}
    after: [first]
  - {name: last, action: core.echo, args: {message: "${tasks.work}"}}
"""

#: Three steps whose middle one fails once, pausing the run (``resume`` then finishes it).
FLAKY = """
name: flaky
on_failure: pause
tasks:
  - {name: a, action: core.echo, args: {message: a}}
  - {name: b, action: core.fail, args: {times: 1}, after: [a]}
  - {name: c, action: core.echo, args: {message: c}, after: [b]}
"""

#: Four echo tasks, each using the previous one's result: a → b → c → d.
CHAIN = """
name: chain
on_failure: {on_failure}
tasks:
  - {{name: a, action: core.echo, args: {{message: a}}}}
  - {{name: b, action: core.echo, args: {{message: "${{tasks.a}}b"}}}}
  - {{name: c, action: core.echo, args: {{message: "${{tasks.b}}c"}}}}
  - {{name: d, action: core.echo, args: {{message: "${{tasks.c}}d"}}}}
"""



def chain(on_failure: str = "revert") -> FlowDefinition:
    """:data:`CHAIN` loaded, with this ``on_failure``."""
    return loader.load_text(CHAIN.format(on_failure=on_failure))


#: A one-task flow that waits for the signal ``go`` (or a day).
APPROVAL = """
name: approval
tasks:
  - {name: approve, action: core.wait, args: {seconds: 86400, signal: go}}
"""


def eventually(check: Callable[[], T], timeout: float = 30.0, what: str = "condition") -> T:
    """Poll ``check`` until it returns something true; fail the test after ``timeout`` seconds.

    A state backend being briefly unreachable (a ZooKeeper server killed on purpose) counts as
    "not yet".
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except BackendUnavailable as exc:
            value, last = None, exc  # type: ignore[assignment]
        else:
            last = None
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} not reached within {timeout} s (last error: {last})"
        time.sleep(0.05)


def executions(*logs: Path) -> collections.Counter[str]:
    """Task paths that started executing according to these -v logs, with how often."""
    return collections.Counter(m.group(1) for log in logs for m in EXECUTING.finditer(log.read_text()))


def opsflow(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``opsflow ARGV`` in this process: exit code, stdout, stderr."""
    with pytest.raises(SystemExit) as exited:
        run_main(list(argv))
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def most_at_once(spans: list[tuple[float, float]]) -> int:
    """The most spans running at one moment (a span may meet two others that never meet each other)."""
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans], key=lambda e: (e[0], e[1]))
    running = most = 0
    for _, step in edges:  # at one instant an end comes before a start: touching spans do not overlap
        running += step
        most = max(most, running)
    return most


class RecordingSlots(slots.LocalSlots):
    """This process's bounds and buckets (real ones: the waits are LocalSlots'), listing every
    reservation and when each bound was held."""

    def __init__(self) -> None:
        super().__init__()
        self.reserved: list[tuple[slots.Rate, float]] = []
        self.held: list[tuple[slots.Bound, float, float]] = []

    def reserve(self, rate: slots.Rate, units: float) -> float:
        self.reserved.append((rate, units))
        return super().reserve(rate, units)

    @contextlib.contextmanager
    def hold(self, bounds: Sequence[slots.Bound], holder: str) -> Iterator[None]:
        with super().hold(bounds, holder):
            began = time.monotonic()
            try:
                yield
            finally:
                ended = time.monotonic()
                self.held += [(bound, began, ended) for bound in bounds]

    def peaks(self) -> dict[slots.Bound, int]:
        """The most holders each bound had at once."""
        spans: dict[slots.Bound, list[tuple[float, float]]] = collections.defaultdict(list)
        for bound, began, ended in self.held:
            spans[bound].append((began, ended))
        return {bound: most_at_once(found) for bound, found in spans.items()}

    def units(self) -> dict[slots.Rate, float]:
        """Units reserved in all, per rate."""
        total: dict[slots.Rate, float] = collections.defaultdict(float)
        for rate, units in self.reserved:
            total[rate] += units
        return dict(total)


@contextlib.contextmanager
def recorded_slots() -> Iterator[RecordingSlots]:
    """Make a :class:`RecordingSlots` hold this process's bounds for the block."""
    ours = RecordingSlots()
    previous = slots.use(ours)
    try:
        yield ours
    finally:
        slots.use(previous)


def count_nodes(client: KazooClient, path: str) -> int:
    """Nodes at and below ``path`` (one deleted while counting counts as gone)."""
    try:
        children = client.get_children(path)
    except NoNodeError:
        return 0
    return 1 + sum(count_nodes(client, f"{path}/{child}") for child in children)
