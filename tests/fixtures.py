"""What many test modules share: the flows they run, a poll-with-deadline helper, the CLI in-process.

One place, so a test reads as its behaviour and the helpers cannot drift apart.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

from opsflow.cli import run_main
from opsflow.errors import BackendUnavailable
from opsflow.flows import loader
from opsflow.flows.model import FlowDefinition

T = TypeVar("T")

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


def opsflow(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``opsflow ARGV`` in this process: exit code, stdout, stderr."""
    with pytest.raises(SystemExit) as exited:
        run_main(list(argv))
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err
