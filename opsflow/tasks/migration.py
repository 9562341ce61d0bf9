"""The disk phases of a migration, one action per phase, each doing what the chosen mode needs.

The flow language has no conditionals, so ``forklift.yaml`` names the phases and passes its
``mode`` input; each phase composes the service actions that mode uses:

=========  =============================  ======================================  =========================
phase      image                          cold                                    warm
=========  =============================  ======================================  =========================
precopy    nothing                        nothing                                 ``transfer.copy_disk``
                                                                                  (source still running)
copy       ``image.snapshot_server``,     ``transfer.copy_disk``                  ``transfer.copy_disk``
           ``image.copy_image``,                                                  ``delta: true``
           ``compute.rebuild_server``
verify     both Glances' hashes agree     ``transfer.verify_disk``                ``transfer.verify_disk``
=========  =============================  ======================================  =========================

Precopy and copy hold the batch's transfer bounds (``limits``: ``transfers`` in total,
``per_source_host``, ``per_destination_host``) while they move bytes, and pace those bytes
(``bytes_per_second_per_host``: what leaves one source hypervisor and what reaches one destination
hypervisor, over SSH or streamed Glance to Glance), through :mod:`opsflow.tasks.slots`: in one
process by its own semaphores and buckets, under conductors by ZooKeeper's, so the limits hold
across every conductor. A host the credentials do not show ("") is bounded by the total only and
not paced. (``api_calls_per_second`` paces every action's requests: see :mod:`opsflow.clouds`.) Their results say when the transfer held its slots (``transfer_started``,
``transfer_ended``, wall clock) and how long it queued for them (``queued_seconds``).

A composed action runs with its own task path (``copy/snapshot``), hence its own tag, so a retry of
the phase adopts what each part made, and the phase's revert reverts the parts in reverse order.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import time
from collections.abc import Iterator, Mapping
from typing import Any

from opsflow import registry
from opsflow.clouds import API_CALLS, CloudAction
from opsflow.errors import ActionFailed
from opsflow.tasks import slots
from opsflow.tasks.base import Action

__all__ = ["LIMITS", "Copy", "Mode", "Precopy", "Verify", "byte_rates", "transfer_bounds"]

#: The keys of a migration's ``limits``: how many transfers at once in total, per source hypervisor,
#: per destination hypervisor; requests a second to each cloud; bytes a second through each hypervisor.
LIMITS = ("transfers", "per_source_host", "per_destination_host", API_CALLS, "bytes_per_second_per_host")


class Mode(enum.Enum):
    """How a server's disk gets to the destination."""

    #: Snapshot at the source, stream Glance to Glance, rebuild the destination from it.
    IMAGE = "image"
    #: Stop the source, copy the disk host to host over SSH.
    COLD = "cold"
    #: Copy host to host while the source runs, stop it, send only the blocks that changed.
    WARM = "warm"


def _mode(value: str) -> Mode:
    try:
        return Mode(value)
    except ValueError as exc:
        raise ActionFailed(f"mode {value!r}: say one of {', '.join(m.value for m in Mode)}") from exc


def byte_rates(limits: Mapping[str, Any], source_cloud: str, source_host: str, destination_cloud: str,
               destination_host: str) -> list[slots.Rate]:
    """The byte rates a transfer between these hosts is paced by under ``limits`` (unknown hosts: none)."""
    per_second = slots.limits_of(limits, LIMITS).get("bytes_per_second_per_host")
    if per_second is None:
        return []
    return [slots.Rate(f"forklift/bytes/{side}/{cloud}/{host}", per_second)
            for side, cloud, host in (("source", source_cloud, source_host),
                                      ("destination", destination_cloud, destination_host)) if host]


def transfer_bounds(limits: Mapping[str, Any], source_cloud: str, source_host: str, destination_cloud: str,
                    destination_host: str) -> list[slots.Bound]:
    """The bounds a transfer between these hosts holds under ``limits`` (unknown hosts: the total only)."""
    wanted = slots.limits_of(limits, LIMITS)
    bounds = []
    if "transfers" in wanted:
        bounds.append(slots.Bound("forklift/transfers", wanted["transfers"]))
    if "per_source_host" in wanted and source_host:
        bounds.append(slots.Bound(f"forklift/source/{source_cloud}/{source_host}", wanted["per_source_host"]))
    if "per_destination_host" in wanted and destination_host:
        bounds.append(slots.Bound(f"forklift/destination/{destination_cloud}/{destination_host}",
                                  wanted["per_destination_host"]))
    return bounds


class _Phase(CloudAction):
    """Runs other registered actions as parts of this one, each with its own path and tag."""

    def part(self, action: str, part: str) -> Action:
        """An instance of action ``action`` acting as ``<this task>/<part>``."""
        instance: Action = registry.fetch(registry.ACTIONS, action)(name=f"{self.name}/{part}")
        remember = self.context.remember
        instance.context = dataclasses.replace(
            self.context, task_path=f"{self.context.task_path}/{part}",
            remember=(lambda key, value: remember(f"{part}/{key}", value)) if remember is not None else None)
        return instance

    @contextlib.contextmanager
    def bounded(self, limits: Mapping[str, Any] | None, source_cloud: str, source_host: str,
                destination_cloud: str, destination_host: str) -> Iterator[dict[str, Any]]:
        """Hold the transfer bounds and pace the bytes for the block; yields the timing keys to add to the result."""
        hosts = (source_cloud, source_host, destination_cloud, destination_host)
        bounds = transfer_bounds(dict(limits or {}), *hosts)
        timing: dict[str, Any] = {}
        with slots.hold(bounds, self.context.tag) as waited, slots.pacing(byte_rates(dict(limits or {}), *hosts)):
            timing.update(queued_seconds=round(waited, 3), transfer_started=time.time())
            yield timing
            timing["transfer_ended"] = time.time()


def _servers(source_cloud: str, source_server: str, destination_cloud: str, destination_server: str,
             access: str) -> dict[str, Any]:
    return {"source_cloud": source_cloud, "source_server": source_server, "destination_cloud": destination_cloud,
            "destination_server": destination_server, "access": access}


class Precopy(_Phase):
    """Warm mode: copy the whole disk while the source still runs, so the stop only waits for the delta."""

    doing = "pre-copying the disk"

    def execute(self, mode: str, source_cloud: str, source_server: str, destination_cloud: str,
                destination_server: str, access: str = "", limits: Mapping[str, Any] | None = None,
                source_host: str = "", destination_host: str = "") -> dict[str, Any]:
        """transfer.copy_disk's result, or ``{"skipped": true}`` in the other modes."""
        if _mode(mode) is not Mode.WARM:
            return {"skipped": True, "bytes_total": 0, "bytes_sent": 0, "seconds": 0.0}
        args = _servers(source_cloud, source_server, destination_cloud, destination_server, access)
        with self.bounded(limits, source_cloud, source_host, destination_cloud, destination_host) as timing:
            result = dict(self.part("transfer.copy_disk", "disk").execute(delta=False, **args))
        return {**result, **timing}

    def revert(self, mode: str, **kwargs: Any) -> None:
        """The destination server's disk goes with the server; nothing else was made."""


class Copy(_Phase):
    """Bring the stopped source's disk to the stopped destination server, as the mode says."""

    doing = "copying the disk"

    def execute(self, mode: str, source_cloud: str, source_server: str, destination_cloud: str,
                destination_server: str, project: str = "", access: str = "",
                limits: Mapping[str, Any] | None = None, source_host: str = "",
                destination_host: str = "") -> dict[str, Any]:
        """``{"mode", "bytes_total", "bytes_sent", "sha256", "seconds", "queued_seconds",
        "transfer_started", "transfer_ended", ...}``; image mode adds the snapshot's and the copy's
        image ids and Glance's hash."""
        with self.bounded(limits, source_cloud, source_host, destination_cloud, destination_host) as timing:
            result = self._copy(_mode(mode), source_cloud, source_server, destination_cloud, destination_server,
                                project, access)
        return {**result, **timing}

    def _copy(self, chosen: Mode, source_cloud: str, source_server: str, destination_cloud: str,
              destination_server: str, project: str, access: str) -> dict[str, Any]:
        if chosen is Mode.IMAGE:
            snapshot = self.part("image.snapshot_server", "snapshot").execute(cloud=source_cloud,
                                                                              server=source_server)
            copy = self.part("image.copy_image", "image").execute(
                source_cloud=source_cloud, image=snapshot["id"], destination_cloud=destination_cloud,
                project=project)
            self.part("compute.rebuild_server", "rebuild").execute(
                cloud=destination_cloud, server=destination_server, image=copy["id"])
            return {"mode": chosen.value, "bytes_total": copy["size"], "bytes_sent": copy["size"],
                    "sha256": copy["sha256"], "os_hash_value": copy["os_hash_value"], "seconds": copy["seconds"],
                    "snapshot": snapshot["id"], "image": copy["id"]}
        args = _servers(source_cloud, source_server, destination_cloud, destination_server, access)
        result = dict(self.part("transfer.copy_disk", "disk").execute(delta=chosen is Mode.WARM, **args))
        return {"mode": chosen.value, "snapshot": "", **result}

    def revert(self, mode: str, source_cloud: str, destination_cloud: str, project: str = "",
               **kwargs: Any) -> None:
        """Image mode: delete the copied image and the snapshot; a copied disk goes with its server."""
        if _mode(mode) is not Mode.IMAGE:
            return
        self.part("image.copy_image", "image").revert(destination_cloud=destination_cloud, project=project)
        self.part("image.snapshot_server", "snapshot").revert(cloud=source_cloud, server="")


class Verify(_Phase):
    """Prove the destination's disk holds the source's bytes before anything is started or deleted."""

    doing = "verifying the disk"

    def execute(self, mode: str, source_cloud: str, source_server: str, destination_cloud: str,
                destination_server: str, copy: dict[str, Any], access: str = "") -> dict[str, Any]:
        """``{"sha256", "verified": true}``; fails when the two ends differ."""
        if _mode(mode) is Mode.IMAGE:
            if not copy.get("os_hash_value"):
                raise ActionFailed(f"no hash of the copied image of {source_server}; the copy cannot be verified")
            return {"sha256": copy.get("sha256", ""), "os_hash_value": copy["os_hash_value"], "verified": True}
        args = _servers(source_cloud, source_server, destination_cloud, destination_server, access)
        result = dict(self.part("transfer.verify_disk", "disk").execute(**args))
        return {**result, "verified": True}

    def revert(self, **kwargs: Any) -> None:
        """Checking changed nothing."""
