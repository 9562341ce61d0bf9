"""When a process started, in a form no change of the wall clock moves.

Leases (:mod:`opsflow.engines.lease`) and pid files (:mod:`opsflow.services.supervisor`) tell a
live owner from a dead one by its pid *and* when it started, since pids are reused. psutil's
``create_time`` is the boot time plus the process's start in clock ticks, and Linux derives the
boot time from the wall clock: when NTP or a resumed virtual machine steps the clock, every process
seems to have started at another moment, and a live owner looks dead: a lease reads as lapsed,
and a running service no longer matches its pid file and would be started a second time (CI's run
of 2026-12-01 failed two lease tests so). The start in clock ticks since boot (``/proc/PID/stat`` field 22) never changes, and the
kernel's boot id tells one boot from the next, so the two together name a process for good.
"""

from __future__ import annotations

import functools
from pathlib import Path

__all__ = ["boot_id", "of", "ticks"]


@functools.cache
def boot_id() -> str:
    """This boot's id (``/proc/sys/kernel/random/boot_id``): a new one at every boot."""
    return Path("/proc/sys/kernel/random/boot_id").read_text().strip()


def ticks(pid: int) -> str | None:
    """When ``pid`` started, in clock ticks since boot; None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # field 22 (starttime); the command name (field 2) may hold spaces and parentheses: split after the last ")"
    return stat.rsplit(")", 1)[1].split()[19]


def of(pid: int) -> str | None:
    """``<boot id>/<ticks>``: the start of ``pid`` in this boot; None when there is no such process."""
    started = ticks(pid)
    return None if started is None else f"{boot_id()}/{started}"
