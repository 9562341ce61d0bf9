"""``opsflow jobs watch``: one loop, whether each look at the job is on ZooKeeper or through the API.

A watch prints a line whenever what it shows changes, and ends with the job: exit 0 when its run
succeeded, 1 when it ended otherwise, needs an operator (paused, failed) or outlived ``--timeout``.
The two sources differ only in how they look (:class:`Look`), so they print and exit alike.
"""

from __future__ import annotations

import dataclasses
import datetime
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

import click

from opsflow import jobs

__all__ = ["FAILED", "LINE_FIELDS", "Look", "follow"]

#: Exit code of a watch whose job ended in any way but success, or needs an operator, or did not end in time.
FAILED = 1
#: What a watch line shows of a job on the board, in this order (empty ones are left out).
LINE_FIELDS = ("state", "tasks done", "running", "claimed by", "due")
#: Board states in which the job waits for an operator: watching longer changes nothing.
_NEEDS_OPERATOR = frozenset({jobs.JobState.PAUSED, jobs.JobState.FAILED})


@dataclasses.dataclass(frozen=True)
class Look:
    """What one look at a job saw."""

    #: The job's run id.
    run_id: str
    #: Its board state while on the board; its run's state once it has left.
    state: str
    #: False once the job has left the board: its run has ended.
    on_board: bool
    #: Whether the ended run succeeded (meaningless while on the board).
    succeeded: bool = False
    #: The :data:`LINE_FIELDS` while on the board.
    fields: Mapping[str, Any] = dataclasses.field(default_factory=dict)


def follow(look: Callable[[], Look], interval: float, timeout: float | None) -> NoReturn:
    """Look every ``interval`` seconds and print what changed, until the job ends or needs an operator."""
    deadline = None if timeout is None else time.monotonic() + timeout
    last = None
    while True:
        seen = look()
        if not seen.on_board:
            click.echo(f"{_now()} job {seen.run_id} {seen.state}")
            sys.exit(0 if seen.succeeded else FAILED)
        line = " ".join(f"{k}={seen.fields[k]}" for k in LINE_FIELDS if seen.fields.get(k))
        if line != last:
            click.echo(f"{_now()} job {seen.run_id} {line}")
            last = line
        if seen.state in _NEEDS_OPERATOR:
            click.echo(f"job {seen.run_id} needs an operator: `opsflow resume {seen.run_id}` after fixing the cause, "
                       f"or `opsflow revert {seen.run_id}`", err=True)
            sys.exit(FAILED)
        if deadline is not None and time.monotonic() > deadline:
            click.echo(f"job {seen.run_id} still {seen.state} after {timeout} s", err=True)
            sys.exit(FAILED)
        time.sleep(interval)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
