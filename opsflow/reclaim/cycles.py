"""Where each server's reclaim stands, read from the audit log: one view for the CLI and the API.

A server's latest cycle is its claim (run, closed or not); the log says the rest: why it was
picked and whose it is (the ``picked`` entry), its deadline (``marked``), whether an owner kept it
and until when, and the last thing that happened. The log is read once for all servers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

from opsflow.reclaim import marks
from opsflow.reclaim.audit import AuditStore, Event, kept_until

__all__ = ["Cycle", "cycles"]


@dataclasses.dataclass(frozen=True)
class Cycle:
    """A server's latest reclaim cycle."""

    server: str
    cycle: int
    run_id: str
    #: ``ended`` once the run is over, else the run's state (``waiting ...``, ``running``).
    state: str
    #: Name, project (name and id) and cloud as the sweep saw them ("" for cycles picked before
    #: the sweep recorded them).
    name: str
    project: str
    project_id: str
    cloud: str
    #: Why it was picked, one sentence per detector.
    reasons: str
    #: When the final action is due (ISO), once the run marked the server.
    deadline: str
    #: Until when an owner's keep holds (ISO), if one does.
    kept_until: str
    #: The latest entry of its log.
    last: str

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe mapping."""
        return dataclasses.asdict(self)


def cycles(store: AuditStore, state_of: Callable[[str], str], events: Iterable[Event] | None = None) -> list[Cycle]:
    """Every server that ever had a cycle, its latest one; ``state_of(run_id)`` names an open run's state."""
    log = list(store.events() if events is None else events)
    picked: dict[tuple[str, str], Event] = {}
    deadline: dict[tuple[str, str], str] = {}
    last: dict[str, str] = {}
    for event in log:
        last[event.server] = event.action
        if event.action == "picked":
            picked[event.server, event.run_id] = event
        elif event.action == "marked":
            deadline[event.server, event.run_id] = str(event.details.get("deadline", ""))
    kept = kept_until(log)
    found = []
    for claim in store.claims().values():
        chosen = picked.get((claim.server, claim.run_id))
        details = dict(chosen.details) if chosen is not None else {}
        found.append(Cycle(
            server=claim.server, cycle=claim.cycle, run_id=claim.run_id,
            state="ended" if claim.closed else state_of(claim.run_id),
            name=str(details.get("name", "")), project=str(details.get("project", "")),
            project_id=str(details.get("project_id", "")), cloud=str(details.get("cloud", "")),
            reasons=chosen.reason if chosen is not None else "",
            deadline=deadline.get((claim.server, claim.run_id), ""),
            kept_until=marks.iso(kept[claim.server]) if claim.server in kept else "",
            last=last.get(claim.server, "")))
    return found
