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

A composed action runs with its own task path (``copy/snapshot``), hence its own tag, so a retry of
the phase adopts what each part made, and the phase's revert reverts the parts in reverse order.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from opsflow import registry
from opsflow.clouds import CloudAction
from opsflow.errors import ActionFailed
from opsflow.tasks.base import Action

__all__ = ["Copy", "Mode", "Precopy", "Verify"]


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


def _servers(source_cloud: str, source_server: str, destination_cloud: str, destination_server: str,
             access: str) -> dict[str, Any]:
    return {"source_cloud": source_cloud, "source_server": source_server, "destination_cloud": destination_cloud,
            "destination_server": destination_server, "access": access}


class Precopy(_Phase):
    """Warm mode: copy the whole disk while the source still runs, so the stop only waits for the delta."""

    doing = "pre-copying the disk"

    def execute(self, mode: str, source_cloud: str, source_server: str, destination_cloud: str,
                destination_server: str, access: str = "") -> dict[str, Any]:
        """transfer.copy_disk's result, or ``{"skipped": true}`` in the other modes."""
        if _mode(mode) is not Mode.WARM:
            return {"skipped": True, "bytes_total": 0, "bytes_sent": 0, "seconds": 0.0}
        args = _servers(source_cloud, source_server, destination_cloud, destination_server, access)
        return dict(self.part("transfer.copy_disk", "disk").execute(delta=False, **args))

    def revert(self, mode: str, **kwargs: Any) -> None:
        """The destination server's disk goes with the server; nothing else was made."""


class Copy(_Phase):
    """Bring the stopped source's disk to the stopped destination server, as the mode says."""

    doing = "copying the disk"

    def execute(self, mode: str, source_cloud: str, source_server: str, destination_cloud: str,
                destination_server: str, project: str = "", access: str = "") -> dict[str, Any]:
        """``{"mode", "bytes_total", "bytes_sent", "sha256", "seconds", ...}``; image mode adds the
        snapshot's and the copy's image ids and Glance's hash."""
        chosen = _mode(mode)
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
