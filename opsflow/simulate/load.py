"""Boot-and-delete churn at a fixed rate, every API call timed: the load a ramp step puts on the cloud.

Server ``i`` of a step is created at ``i * 60 / rate`` seconds after the step began (an open
loop: a slow cloud does not slow the arrivals down, as users' requests do not wait for each
other), watched every second until ACTIVE or ERROR -- the first answer naming a host is when it
was scheduled -- and deleted at once. Names carry the task's tag, so a second attempt of the same
step first deletes whatever the first one left (:func:`leftovers`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from opsflow.simulate.profile import Servers, Step

__all__ = ["BOOT_TIMEOUT", "Boot", "churn", "leftovers", "remove"]

#: Seconds a server may take from its create call to ACTIVE before it counts as failed.
BOOT_TIMEOUT = 300.0
_POLL = 1.0
_T = TypeVar("_T")


@dataclass
class Boot:
    """One server's life in a step, as the client saw it."""

    name: str
    #: ACTIVE, ERROR, TIMEOUT (never ACTIVE within :data:`BOOT_TIMEOUT`) or REFUSED (create failed).
    outcome: str = "REFUSED"
    #: Seconds from the create call to the first answer naming a host; to ACTIVE.
    scheduled_s: float | None = None
    active_s: float | None = None
    host: str = ""
    #: Milliseconds of every API call made for it (create, each show, delete).
    calls_ms: list[float] = field(default_factory=list)
    error: str = ""


def _timed(boot: Boot, call: Callable[[], _T]) -> _T:
    started = time.perf_counter()
    try:
        return call()
    finally:
        boot.calls_ms.append((time.perf_counter() - started) * 1000)


def _life(conn: Any, servers: Servers, ids: dict[str, str], name: str, start_at: float) -> Boot:
    boot = Boot(name)
    time.sleep(max(0.0, start_at - time.monotonic()))
    began = time.monotonic()
    try:
        created = _timed(boot, lambda: conn.compute.create_server(
            name=name, image_id=ids["image"], flavor_id=ids["flavor"], networks=[{"uuid": ids["network"]}]))
    except Exception as exc:  # noqa: BLE001 -- a refused create is a measured outcome, not our failure
        boot.error = str(exc).splitlines()[0]
        return boot
    boot.outcome = "TIMEOUT"
    while time.monotonic() - began < BOOT_TIMEOUT:
        time.sleep(_POLL)
        server = _timed(boot, lambda: conn.compute.get_server(created.id))
        if server.compute_host and boot.scheduled_s is None:
            boot.scheduled_s = time.monotonic() - began
            boot.host = server.compute_host
        if server.status in ("ACTIVE", "ERROR"):
            boot.outcome = server.status
            if server.status == "ACTIVE":
                boot.active_s = time.monotonic() - began
            else:
                boot.error = (server.fault or {}).get("message", "")
            break
    _timed(boot, lambda: conn.compute.delete_server(created.id, ignore_missing=True))
    return boot


def _resolve(conn: Any, servers: Servers) -> dict[str, str]:
    image = conn.image.find_image(servers.image, ignore_missing=False)
    flavor = conn.compute.find_flavor(servers.flavor, ignore_missing=False)
    network = conn.network.find_network(servers.network, ignore_missing=False)
    return {"image": image.id, "flavor": flavor.id, "network": network.id}


def churn(conn: Any, step: Step, servers: Servers, prefix: str) -> list[Boot]:
    """Boot ``step.boots_per_minute`` servers a minute for ``step.seconds``, each deleted once it settled."""
    ids = _resolve(conn, servers)
    count = max(1, math.floor(step.boots_per_minute * step.seconds / 60))
    gap = 60.0 / step.boots_per_minute
    start = time.monotonic()
    # Every server's life holds a thread mostly asleep; at most as many as can be alive at once.
    alive = min(count, math.ceil((BOOT_TIMEOUT + 30) / gap) + 1)
    with ThreadPoolExecutor(max_workers=min(alive, 256), thread_name_prefix="ramp") as pool:
        futures = [pool.submit(_life, conn, servers, ids, f"{prefix}-{i}", start + i * gap) for i in range(count)]
        return [f.result() for f in futures]


def leftovers(conn: Any, prefix: str) -> Iterator[Any]:
    """Servers an earlier attempt of the same step left (named ``prefix-N``)."""
    for server in conn.compute.servers(name=f"^{prefix}-"):
        if server.name.startswith(f"{prefix}-"):
            yield server


def remove(conn: Any, prefix: str, wait: float = 300.0) -> int:
    """Delete the step's servers and wait until they are gone; how many there were."""
    found = list(leftovers(conn, prefix))
    for server in found:
        conn.compute.delete_server(server.id, ignore_missing=True)
    deadline = time.monotonic() + wait
    while found and list(leftovers(conn, prefix)) and time.monotonic() < deadline:
        time.sleep(2)
    return len(found)
