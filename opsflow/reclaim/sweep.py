"""The sweep: find candidates by listing calls, start one reclaim run per new one, clear stale marks.

:func:`evaluate` is pure: the policy's detectors and exclusions over an :class:`Inventory` and what
the audit store says of earlier cycles. :func:`start` turns new candidates into runs, each with a
deterministic id per server and cycle (:func:`run_id_for`), claimed first in the audit store so that
two sweeps racing, or a sweep started again after dying halfway, never start a second run for the
same server: the loser of a claim skips the server; a claim whose run was never stored (its sweep
died in between) is completed by the next sweep, and in distributed mode the job is posted with
the jobboard's ``post_once``, whose marker makes a second post impossible.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import os
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from opsflow import registry
from opsflow.engines.jobboard import JobBoard
from opsflow.engines.records import RunState
from opsflow.engines.runner import Runner
from opsflow.errors import FlowNotFound
from opsflow.flows import loader, resolver
from opsflow.reclaim import marks
from opsflow.reclaim.audit import AuditStore, Claim, Event, kept_until
from opsflow.reclaim.detectors import Detector
from opsflow.reclaim.inventory import Inventory, Owner, ServerView
from opsflow.reclaim.policy import DETECTORS, Policy, Scope

__all__ = ["Candidate", "Status", "Sweep", "evaluate", "run_id_for", "start"]

LOG = logging.getLogger(__name__)

#: Namespace of reclaim run ids (uuid5 of server and cycle).
_NAMESPACE = uuid.UUID("5f0c2a4e-9d1b-4c7e-8a57-6f0e3b9a1c42")


def run_id_for(server: str, cycle: int) -> str:
    """The run id of ``server``'s reclaim run in ``cycle``: the same for every sweep that computes it."""
    return str(uuid.uuid5(_NAMESPACE, f"{server}/{cycle}"))


class Status(enum.Enum):
    """Where a candidate stands."""

    #: No run yet: the sweep starts one.
    NEW = "new"
    #: Already in a run (this or an earlier sweep started it).
    IN_RUN = "in-run"


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A server a detector picked and no exclusion saved."""

    server: ServerView
    #: One sentence per detector that picked it.
    reasons: tuple[str, ...]
    #: The detectors that picked it.
    detectors: tuple[str, ...]
    #: Its owner (None when Keystone has no such user).
    owner: Owner | None
    #: Its project's name.
    project: str
    status: Status
    #: The cycle its run has (or will have).
    cycle: int
    run_id: str

    def row(self) -> list[Any]:
        """A row for ``reclaim scan`` and ``list``."""
        return [self.server.id, self.server.name, self.project, self.owner.name if self.owner else self.server.user_id,
                ",".join(self.detectors), self.status.value, "; ".join(self.reasons)]


#: Columns of :meth:`Candidate.row`.
COLUMNS = ["id", "name", "project", "owner", "detectors", "status", "why"]


@dataclasses.dataclass(frozen=True)
class Sweep:
    """What one sweep found."""

    candidates: tuple[Candidate, ...]
    #: Servers marked by reclaim that are candidates no more and in no run (their mark is stale).
    stale: tuple[ServerView, ...]
    #: Servers skipped by an exclusion or a keep, with the reason.
    excluded: tuple[tuple[ServerView, str], ...]
    #: HTTP requests the inventory made, and how many of them were diagnostics.
    calls: int
    diagnostics_calls: int


def _in_scope(scope: Scope, server: ServerView, inventory: Inventory) -> bool:
    if scope.projects and server.project_id not in scope.projects \
            and inventory.project_name(server.project_id) not in scope.projects:
        return False
    if scope.flavors and server.flavor not in scope.flavors:
        return False
    return not scope.tags or any(tag in server.tags for tag in scope.tags)


def _excluded(policy: Policy, server: ServerView, inventory: Inventory, kept: Mapping[str, float],
              now: float) -> str | None:
    for tag in policy.exclude_tags:
        if tag in server.tags:
            return f"tag {tag!r} opts it out"
    for key, value in policy.exclude_metadata.items():
        if server.metadata.get(key) == value:
            return f"metadata {key}={value} opts it out"
    if server.project_id in policy.exclude_projects or inventory.project_name(server.project_id) in policy.exclude_projects:
        return "its project is excluded"
    until = max(marks.keep_until(server.metadata) or 0.0, kept.get(server.id, 0.0))
    if until > now:
        return f"kept by its owner until {marks.iso(until)}"
    return None


def _detectors(policy: Policy) -> list[tuple[str, Detector, Scope]]:
    return [(rule.name, registry.fetch(DETECTORS, rule.name)(rule.settings), rule.where) for rule in policy.detectors]


def judge(policy: Policy, server: ServerView, inventory: Inventory, now: float,
          kept: Mapping[str, float] | None = None) -> tuple[str | None, list[tuple[str, str]]]:
    """One server: (why it is excluded or None, [(detector, reason), ...]) -- a run's re-check."""
    if not _in_scope(policy.where, server, inventory):
        return "outside the policy's scope", []
    why = _excluded(policy, server, inventory, kept or {}, now)
    if why is not None:
        return why, []
    return None, [(name, reason) for name, detector, scope in _detectors(policy)
                  if _in_scope(scope, server, inventory) and (reason := detector.find(server, inventory, now))]


def evaluate(policy: Policy, inventory: Inventory, store: AuditStore, now: float) -> Sweep:
    """Apply the policy to the inventory (no cloud calls beyond diagnostics of idle short-listed servers)."""
    detectors = _detectors(policy)
    claims = store.claims()
    kept = kept_until(store.events())  # one read of the log, not one per server
    candidates, stale, excluded = [], [], []
    for server in inventory.servers:
        claim: Claim | None = claims.get(server.id)
        open_run = claim is not None and not claim.closed
        if not _in_scope(policy.where, server, inventory):
            continue
        why = _excluded(policy, server, inventory, kept, now)
        if why is not None:
            excluded.append((server, why))
            if marks.TAG in server.tags and not open_run:
                stale.append(server)
            continue
        found = [(name, reason) for name, detector, scope in detectors
                 if _in_scope(scope, server, inventory) and (reason := detector.find(server, inventory, now))]
        if not found:
            if marks.TAG in server.tags and not open_run:
                stale.append(server)
            continue
        if open_run:
            assert claim is not None
            status, cycle = Status.IN_RUN, claim.cycle
        else:
            status, cycle = Status.NEW, (claim.cycle + 1 if claim is not None else 1)
        candidates.append(Candidate(server, tuple(r for _, r in found), tuple(n for n, _ in found),
                                    inventory.users.get(server.user_id), inventory.project_name(server.project_id),
                                    status, cycle, run_id_for(server.id, cycle)))
    return Sweep(tuple(candidates), tuple(stale), tuple(excluded), inventory.calls, inventory.diagnostics_calls)


def run_inputs(policy: Policy, candidate: Candidate, state_url: str) -> dict[str, Any]:
    """The inputs of one reclaim run."""
    owner = candidate.owner
    return {
        "cloud": policy.cloud, "server": candidate.server.id, "name": candidate.server.name,
        "project": candidate.project, "owner": owner.name if owner else candidate.server.user_id,
        "email": owner.email if owner else "", "reasons": list(candidate.reasons), "cycle": candidate.cycle,
        "policy": policy.to_json(), "store": state_url,
    }


def picked_details(policy: Policy, candidate: Candidate) -> dict[str, Any]:
    """What a ``picked`` entry records besides the reasons: the cycle and, so that owners can be
    shown their own servers' cycles (the service API), the server's name, project and cloud."""
    return {"cycle": candidate.cycle, "detectors": list(candidate.detectors), "cloud": policy.cloud,
            "name": candidate.server.name, "project": candidate.project,
            "project_id": candidate.server.project_id}


def start(policy: Policy, sweep: Sweep, runner: Runner, store: AuditStore, now: float,
          board: JobBoard | None = None, definition_path: str | None = None) -> list[str]:
    """Start one run per NEW candidate (and complete the runs of claims a dead sweep left); their ids.

    In distributed mode (``board``) each run is a job for the conductors; otherwise the caller
    drives the returned runs.
    """
    definition = (loader.load_file(definition_path) if definition_path
                  else loader.load_file(os.path.join(resolver.BUILTIN_DIR, "reclaim.yaml")))
    started = []
    for candidate in sweep.candidates:
        run_id = candidate.run_id
        if candidate.status is Status.NEW:
            if not store.claim(candidate.server.id, candidate.cycle, run_id):
                LOG.info("server %s: cycle %d claimed by another sweep", candidate.server.id, candidate.cycle)
                continue
            store.append(Event(now, candidate.server.id, "picked", "reclaim-sweep", "; ".join(candidate.reasons),
                               run_id, picked_details(policy, candidate)))
        elif (state := _state(runner, run_id)) is RunState.REVERTED:
            # Its run failed and undid itself (the mark is gone): end the cycle; the next sweep starts another.
            store.append(Event(now, candidate.server.id, "ended-reverted", "reclaim-sweep",
                               "its run failed and was reverted", run_id, {"cycle": candidate.cycle}))
            store.close_cycle(candidate.server.id, candidate.cycle)
            continue
        elif state is not None:
            continue  # in its run already
        else:
            LOG.info("server %s: completing cycle %d, whose sweep died before storing its run",
                     candidate.server.id, candidate.cycle)
        if not _stored(runner, run_id):
            runner.create(definition, run_inputs(policy, candidate, runner.state_url), run_id=run_id)
        if board is not None:
            marker = f"{board.address.root}/reclaim/posted/{run_id}"
            if not board.post_once(run_id, definition.name, now, marker):
                continue
        started.append(run_id)
    return started


def _stored(runner: Runner, run_id: str) -> bool:
    return _state(runner, run_id) is not None


def _state(runner: Runner, run_id: str) -> RunState | None:
    try:
        return runner.record(run_id).state
    except FlowNotFound:
        return None


def clear_stale(conn: Any, sweep: Sweep, store: AuditStore, now: float) -> list[str]:
    """Remove the mark of servers that stopped being candidates; their ids."""
    cleared = []
    for server in sweep.stale:
        marks.clear(conn, server.id)
        store.append(Event(now, server.id, "cleared", "reclaim-sweep", "no longer a candidate"))
        cleared.append(server.id)
    return cleared


def names(sequence: Sequence[Candidate]) -> list[str]:
    """The candidates' server names."""
    return [c.server.name for c in sequence]
