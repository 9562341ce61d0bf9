"""Keeping a server: recorded durably first, then the run is told.

An owner's keep must never be lost, whatever the run is doing at that instant. So a keep is
written where the run's re-checks read it before anything else happens: the cycle's decision in
the audit store (first writer wins: the keep, or the run's final ``act``), a ``kept`` entry in the
log and the :data:`~opsflow.reclaim.marks.KEEP_KEY` metadata on the server. Only then is the run
signalled, and only to cut its wait short: a signal that arrives while the run is between two
steps, or that is lost, changes nothing, because the next re-check reads the record.

When the run has already decided to act, the keep is refused with that reason (and logged), never
silently dropped.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from opsflow import clouds
from opsflow.errors import InvalidState
from opsflow.reclaim import marks
from opsflow.reclaim.audit import AuditStore, Event

__all__ = ["KEEP_SIGNAL", "Kept", "keep"]

LOG = logging.getLogger(__name__)

#: The signal a keep sends to the server's reclaim run.
KEEP_SIGNAL = "keep"


@dataclasses.dataclass(frozen=True)
class Kept:
    """What a keep achieved."""

    server: str
    #: Until when (epoch seconds).
    until: float
    #: The run it stopped, if one was under way.
    run_id: str

    def sentence(self) -> str:
        """For the owner."""
        return f"server {self.server} is kept until {marks.iso(self.until)}"


def keep(store: AuditStore, cloud: str, server: str, days: float, actor: str, now: float,
         signal: Callable[[str], None] | None = None) -> Kept:
    """Keep ``server`` (an id) for ``days``; InvalidState when its run already decided to act."""
    until = now + days * 86400
    claim = store.claims().get(server)
    run_id = ""
    if claim is not None and not claim.closed:
        run_id = claim.run_id
        decision = store.decide(server, claim.cycle, "keep")
        if decision != "keep":
            store.append(Event(now, server, "keep-refused", actor, "the run had already started its final action",
                               run_id, {"until": until}))
            raise InvalidState(f"server {server} is already being reclaimed (run {run_id}); too late to keep it — "
                               f"a hibernated server comes back with `opsflow restore`")
    store.append(Event(now, server, "kept", actor, f"kept for {days:g} days", run_id, {"until": until}))
    with clouds.errors(cloud, "recording the keep on the server"):
        try:
            marks.record_keep(clouds.connect(cloud), server, until)
        except Exception as exc:  # the store has it, which is what the run reads first
            LOG.warning("server %s: keep recorded in the audit log but not in its metadata: %s", server, exc)
    if run_id and signal is not None:
        try:
            signal(run_id)
        except Exception as exc:  # its re-check reads the record anyway
            LOG.info("run %s not signalled (%s); its next re-check reads the keep", run_id, exc)
    return Kept(server, until, run_id)
