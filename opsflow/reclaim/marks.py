"""What reclaim writes on a server, so its owner sees it in ``openstack server show``.

A server in a reclaim run carries the Nova tag :data:`TAG` and metadata naming the stage, the
deadline (when the final action happens unless the owner keeps it), the run, and why it was
picked. A keep is written as :data:`KEEP_KEY` (an ISO time); the sweep skips a server whose keep
lies in the future, and a run's re-check honours it.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from opsflow.errors import CloudError
from opsflow.reclaim.inventory import parse_time

__all__ = ["DEADLINE_KEY", "KEEP_KEY", "REASON_KEY", "RUN_KEY", "STAGE_KEY", "TAG", "clear", "iso", "keep_until",
           "mark", "record_keep", "release", "set_stage"]

LOG = logging.getLogger(__name__)

#: Nova tag of a server in a reclaim run.
TAG = "opsflow-reclaim"
#: Metadata: ``notice``, ``final`` or ``acting``.
STAGE_KEY = "opsflow-reclaim-stage"
#: Metadata: when the final action happens (ISO, UTC).
DEADLINE_KEY = "opsflow-reclaim-deadline"
#: Metadata: the reclaim run's id (what ``opsflow reclaim keep`` signals).
RUN_KEY = "opsflow-reclaim-run"
#: Metadata: why the server was picked (cut to Nova's 255 characters).
REASON_KEY = "opsflow-reclaim-reason"
#: Metadata: the owner keeps the server until this time (ISO, UTC).
KEEP_KEY = "opsflow-reclaim-keep-until"

#: Nova's limit on a metadata value.
_VALUE_MAX = 255


def iso(moment: float) -> str:
    """``2026-12-08T12:00:00Z``."""
    return datetime.datetime.fromtimestamp(moment, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def keep_until(metadata: dict[str, str] | Any) -> float | None:
    """The keep recorded in a server's metadata, as epoch seconds, or None."""
    return parse_time((metadata or {}).get(KEEP_KEY))


def _checked(response: Any, doing: str, missing_ok: bool = False) -> None:
    """Raise CloudError for a refused request (the sdk's raw calls do not raise by themselves).

    Nova refuses tags and metadata on a server in ERROR (409): such a server -- a boot failure,
    the likeliest candidate of all -- cannot show its mark, so the audit log (which the runs
    read) carries it alone and the refusal is only logged.
    """
    status = getattr(response, "status_code", 200)
    if status < 400 or (missing_ok and status == 404):
        return
    if status == 409:
        LOG.warning("nova refused %s (the server's state forbids it): %s", doing, getattr(response, "text", "")[:200])
        return
    raise CloudError("?", f"nova refused {doing}: HTTP {status} {getattr(response, 'text', '')[:200]}",
                     status=status)


def mark(conn: Any, server_id: str, *, stage: str, deadline: float, run_id: str, reason: str) -> None:
    """Tag the server and set the stage metadata (both idempotent)."""
    _checked(conn.compute.put(f"/servers/{server_id}/tags/{TAG}", microversion="2.26"), "tagging the server")
    _checked(conn.compute.post(f"/servers/{server_id}/metadata", json={"metadata": {
        STAGE_KEY: stage, DEADLINE_KEY: iso(deadline), RUN_KEY: run_id, REASON_KEY: reason[:_VALUE_MAX]}}),
        "setting the reclaim metadata")


def set_stage(conn: Any, server_id: str, stage: str) -> None:
    """Move the mark to another stage."""
    _checked(conn.compute.put(f"/servers/{server_id}/metadata/{STAGE_KEY}", json={"meta": {STAGE_KEY: stage}}),
             "setting the reclaim stage")


def clear(conn: Any, server_id: str) -> None:
    """Remove the tag and the stage metadata (the keep stays); safe to repeat, and on a gone server."""
    _checked(conn.compute.delete(f"/servers/{server_id}/tags/{TAG}", microversion="2.26"), "untagging",
             missing_ok=True)
    for key in (STAGE_KEY, DEADLINE_KEY, RUN_KEY, REASON_KEY):
        _checked(conn.compute.delete(f"/servers/{server_id}/metadata/{key}"), "clearing the reclaim metadata",
                 missing_ok=True)


def release(conn: Any, server_id: str) -> None:
    """Remove the keep from the server's metadata (safe to repeat)."""
    _checked(conn.compute.delete(f"/servers/{server_id}/metadata/{KEEP_KEY}"), "dropping the keep", missing_ok=True)


def record_keep(conn: Any, server_id: str, until: float) -> None:
    """Write the keep into the server's metadata."""
    _checked(conn.compute.put(f"/servers/{server_id}/metadata/{KEEP_KEY}", json={"meta": {KEEP_KEY: iso(until)}}),
             "recording the keep")
