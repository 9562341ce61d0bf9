"""Waiting for a cloud resource to reach a state, with a deadline: shared by the cloud actions.

A poll holds its worker thread; the waits here are seconds to minutes (a boot, a stop, an image
upload), which is what a worker is for. Days-long waits are ``core.wait``'s job.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from opsflow.errors import ActionFailed

__all__ = ["INTERVAL", "TIMEOUT", "until", "wait_image", "wait_rebuilt", "wait_status"]

#: Seconds between two looks at a resource.
INTERVAL = 0.5
#: Seconds a resource may take to get where it is going before the action gives up.
TIMEOUT = 600.0


def until(what: str, check: Callable[[], Any], timeout: float = TIMEOUT, first_look: float = 0.0) -> Any:
    """Call ``check`` until it returns something truthy (returned) or ``timeout`` passes (ActionFailed).

    ``first_look`` seconds pass before the first call: a caller that has just asked for a change
    knows the cloud cannot have made it yet, and a look at once would only cost the API a request.
    """
    deadline = time.monotonic() + timeout
    time.sleep(first_look)
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise ActionFailed(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(INTERVAL)


def _fault(server: Any) -> str:
    fault = getattr(server, "fault", None) or {}
    return str(fault.get("message") or "no fault recorded") if isinstance(fault, dict) else str(fault)


def wait_status(conn: Any, server_id: str, status: str, timeout: float = TIMEOUT, first_look: float = 0.0) -> Any:
    """The server once it has ``status`` and no task in progress; ERROR fails with Nova's fault."""

    def check() -> Any:
        server = conn.compute.get_server(server_id)
        if server.status == "ERROR" and status != "ERROR":
            raise ActionFailed(f"server {server_id} went to ERROR: {_fault(server)}")
        return server if server.status == status and not server.task_state else None

    return until(f"server {server_id} to be {status}", check, timeout, first_look)


def wait_rebuilt(conn: Any, server_id: str, image_id: str, status: str, timeout: float = TIMEOUT, first_look: float = 0.0) -> Any:
    """The server once it runs ``image_id`` and is back in ``status`` (ACTIVE or SHUTOFF)."""

    def check() -> Any:
        server = conn.compute.get_server(server_id)
        if server.status == "ERROR":
            raise ActionFailed(f"rebuild of server {server_id} failed: {_fault(server)}")
        done = server.status == status and not server.task_state and (server.image or {}).get("id") == image_id
        return server if done else None

    return until(f"server {server_id} to be rebuilt from image {image_id}", check, timeout, first_look)


def wait_image(conn: Any, image_id: str, timeout: float = TIMEOUT, first_look: float = 0.0) -> Any:
    """The image once it is active; killed or deleted fails."""

    def check() -> Any:
        image = conn.image.get_image(image_id)
        if image.status in ("killed", "deleted", "pending_delete"):
            raise ActionFailed(f"image {image_id} is {image.status}")
        return image if image.status == "active" else None

    return until(f"image {image_id} to be active", check, timeout, first_look)
