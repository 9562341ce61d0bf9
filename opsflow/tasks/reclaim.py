"""Reclaim actions: mark a server, wait (skippable), re-check it, delete it, record the outcome.

The steps of ``definitions/reclaim.yaml``. The flow language has no conditions, so a step that has
nothing to do after an earlier verdict (a keep, a server gone) returns at once: the verdict
travels from :class:`Recheck` to the later steps as data, and the hibernate child run is started
for a list that is empty unless the verdict is ``act``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from opsflow import clouds
from opsflow.clouds import CloudAction
from opsflow.reclaim import marks
from opsflow.reclaim.audit import Event, open_store
from opsflow.reclaim.inventory import Inventory
from opsflow.reclaim.policy import Policy
from opsflow.tasks import polling
from opsflow.tasks.base import Action
from opsflow.tasks.wait import Wait

__all__ = ["DeleteServer", "Mark", "Recheck", "Record", "ScheduleNext", "SkippableWait", "SweepNow"]

LOG = logging.getLogger(__name__)

#: Verdicts of a re-check.
PROCEED, ACT, KEPT, GONE, CLEARED = "proceed", "act", "kept", "gone", "cleared"


def _event(store: str, event: Event) -> None:
    with open_store(store) as audit:
        audit.append(event)


class Mark(CloudAction):
    """Tag the server and write stage, deadline, run and reason in its metadata (``server show``)."""

    doing = "marking the server for reclaim"

    def execute(self, cloud: str, server: str, reasons: list[str], cycle: int, policy: Mapping[str, Any],
                store: str) -> dict[str, Any]:
        """``{deadline, notice_seconds, final_seconds, action}``; the deadline is fixed at the first try."""
        rules = Policy.from_json(policy)
        now = self.context.clock.now()
        deadline = now + rules.notice_seconds + rules.final_seconds
        if self.context.remember is not None:
            deadline = self.context.remember("deadline", deadline)
        marks.mark(clouds.connect(cloud), server, stage="notice", deadline=deadline, run_id=self.context.run_id,
                   reason="; ".join(reasons))
        _event(store, Event(now, server, "marked", "reclaim", "; ".join(reasons), self.context.run_id,
                            {"cycle": cycle, "deadline": marks.iso(deadline)}))
        return {"deadline": marks.iso(deadline), "notice_seconds": rules.notice_seconds,
                "final_seconds": rules.final_seconds, "action": rules.action}

    def revert(self, cloud: str, server: str, store: str, **kwargs: Any) -> None:
        """Remove the mark (the run is being undone)."""
        marks.clear(clouds.connect(cloud), server)
        _event(store, Event(self.context.clock.now(), server, "unmarked", "reclaim", "the run was reverted",
                            self.context.run_id))


class SkippableWait(Wait):
    """``core.wait`` that returns at once when ``skip`` is true (a verdict already reached)."""

    def execute(self, seconds: float | None = None, until: str | None = None, signal: str | None = None,
                skip: bool = False) -> dict[str, Any]:
        """Like ``core.wait``; ``{"ended_by": "skipped"}`` when skipped."""
        if skip:
            return {"ended_by": "skipped"}
        return super().execute(seconds=seconds, until=until, signal=signal)


class Recheck(CloudAction):
    """Is the server still a candidate, and did its owner keep it? Before acting, claim the decision."""

    doing = "re-checking the server"

    def execute(self, cloud: str, server: str, cycle: int, policy: Mapping[str, Any], store: str,
                final: bool = False, previous: str = PROCEED) -> dict[str, Any]:
        """``{verdict, stop, why, hibernate: [server] or [], layout, delete: bool}``."""
        rules = Policy.from_json(policy)
        now = self.context.clock.now()
        verdict, why = previous, ""
        if previous == PROCEED:
            verdict, why = self._judge(cloud, server, cycle, rules, store, now)
            if verdict == PROCEED and final:
                verdict, why = self._decide(cloud, server, cycle, store)
        acting = verdict == ACT
        LOG.info("reclaim of %s: re-check%s says %s %s", server, " (final)" if final else "", verdict, why)
        if verdict != previous:
            _event(store, Event(now, server, f"recheck-{verdict}", "reclaim", why, self.context.run_id,
                                {"final": final}))
        return {"verdict": verdict, "stop": verdict != PROCEED, "why": why,
                "hibernate": [server] if acting and rules.action == "hibernate" else [],
                "layout": dict(rules.hibernate.get("layout", {})),
                "delete": acting and rules.action == "delete"}

    def _judge(self, cloud: str, server: str, cycle: int, rules: Policy, store: str, now: float) -> tuple[str, str]:
        from opsflow.reclaim import sweep

        with open_store(store) as audit:
            if audit.decision(server, cycle) == "keep":
                return KEPT, "its owner kept it"
            kept = audit.keep_until(server, now)
        if kept is not None:
            return KEPT, f"kept until {marks.iso(kept)}"
        inventory = Inventory(cloud)
        view = inventory.read_one(server)
        if view is None:
            return GONE, "the server no longer exists"
        until = marks.keep_until(view.metadata)
        if until is not None and until > now:
            return KEPT, f"kept until {marks.iso(until)}"
        excluded, found = sweep.judge(rules, view, inventory, now)
        if excluded is not None:
            return CLEARED, excluded
        if not found:
            return CLEARED, "it is no longer a candidate"
        return PROCEED, "; ".join(reason for _, reason in found)

    def _decide(self, cloud: str, server: str, cycle: int, store: str) -> tuple[str, str]:
        with open_store(store) as audit:
            decision = audit.decide(server, cycle, "act")
        if decision == "keep":
            return KEPT, "its owner kept it at the last moment"
        marks.set_stage(clouds.connect(cloud), server, "acting")
        return ACT, "the deadline passed without a keep"

    def revert(self, **kwargs: Any) -> None:
        """Reading changed nothing (a decision, once made, stays: the log is append-only)."""


class DeleteServer(CloudAction):
    """Delete the server when the verdict is to act and the policy's action is ``delete``."""

    doing = "deleting the server"

    def execute(self, cloud: str, server: str, delete: bool) -> dict[str, Any]:
        """``{deleted: bool}``; waits until Nova no longer has it."""
        if not delete:
            return {"deleted": False}
        conn = clouds.connect(cloud)
        conn.compute.delete_server(server, ignore_missing=True)
        polling.until(f"server {server} deleted", lambda: clouds.find_one(conn.compute.get_server, server) is None)
        return {"deleted": True}

    def revert(self, **kwargs: Any) -> None:
        """A deleted server cannot come back (the flow marks this step irreversible)."""


class Record(CloudAction):
    """Write the outcome in the audit log, clear the mark of a server that stays, end the cycle."""

    doing = "recording the reclaim outcome"

    def execute(self, cloud: str, server: str, cycle: int, store: str, verdict: str,
                hibernated: list[Mapping[str, Any]] | None = None, deleted: bool = False) -> dict[str, Any]:
        """``{outcome}``: kept, cleared, gone, hibernated, deleted, or failed (the hibernate run failed)."""
        outcome = verdict
        if verdict == ACT:
            if deleted:
                outcome = "deleted"
            elif hibernated and all(child["state"] == "succeeded" for child in hibernated):
                outcome = "hibernated"
            else:
                outcome = "failed"
        if outcome in (KEPT, CLEARED, "failed"):
            marks.clear(clouds.connect(cloud), server)
        with open_store(store) as audit:
            audit.append(Event(self.context.clock.now(), server, f"ended-{outcome}", "reclaim",
                               f"the cycle ended: {outcome}", self.context.run_id, {"cycle": cycle}))
            audit.close_cycle(server, cycle)
        if outcome == "failed":  # the hibernate child reverted itself: the server is back as it was
            LOG.warning("reclaim of server %s: the hibernate run failed: %s", server,
                        (hibernated or [{}])[0].get("error"))
        return {"outcome": outcome}

    def revert(self, **kwargs: Any) -> None:
        """The log keeps what happened."""


class SweepNow(Action):
    """One sweep, run by a conductor: the candidates' reclaim runs are posted on the same jobboard."""

    def execute(self, policy: Mapping[str, Any], zookeeper: str) -> dict[str, Any]:
        """``{candidates, started}``; safe to repeat (each server's cycle is claimed once)."""
        from opsflow.reclaim import operations

        clock = self.context.clock
        done = operations.scan(Policy.from_json(policy), operations.Site("", zookeeper, clock=clock), clock)
        return {"candidates": len(done.sweep.candidates), "started": list(done.started),
                "calls": done.sweep.calls}

    def revert(self, **kwargs: Any) -> None:
        """The runs it started are runs of their own; undo them one by one if need be."""


class ScheduleNext(Action):
    """Post the next sweep (generation + 1) once: ``reclaim-sweep.yaml`` runs every ``every`` seconds."""

    def execute(self, policy: Mapping[str, Any], zookeeper: str, every: float, generation: int) -> dict[str, Any]:
        """``{run_id, posted}``; the next run's id is derived from the policy and generation, and the
        job is posted with ``post_once``, so a retry or a second conductor posts nothing more."""
        from opsflow.reclaim import schedule

        run_id, posted = schedule.post(Policy.from_json(policy), zookeeper, every, generation + 1,
                                       self.context.clock.now())
        return {"run_id": run_id, "posted": posted}

    def revert(self, **kwargs: Any) -> None:
        """The next sweep is a run of its own (``opsflow cancel`` stops it)."""
