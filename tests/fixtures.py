"""What many test modules share: the flows they run, a poll-with-deadline helper, the CLI in-process.

One place, so a test reads as its behaviour and the helpers cannot drift apart.
"""

from __future__ import annotations

import collections
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from opsflow.cli import run_main
from opsflow.errors import BackendUnavailable
from opsflow.flows import loader
from opsflow.flows.model import FlowDefinition

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
