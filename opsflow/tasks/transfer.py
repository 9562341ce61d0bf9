"""Disk transfer actions: copy a server's disk from its hypervisor to another server's, and verify it.

``transfer.copy_disk`` overwrites the destination server's own disk file with the source server's
bytes, host to host over SSH (``opsflow/transfer``); nova never notices, so the destination server
keeps its identity, ports and flavor and boots from the copied disk. Run with the source still
running it is a warm pre-copy; ``delta: true`` after the source stopped sends only the blocks that
changed since. ``transfer.verify_disk`` checksums both disks where they lie.

Safe to run twice, as every action must be: a copy that ran before simply runs again (a full copy
writes beside the disk and renames, so an interrupted one never leaves half a disk; a delta sends
what still differs). Nothing is created in the clouds, so there is nothing to adopt; revert removes
what an interrupted full copy left beside the destination disk.
"""

from __future__ import annotations

import logging
from typing import Any

from opsflow.errors import ChecksumMismatch, CloudError, TransferFailed
from opsflow.tasks.base import Action
from opsflow.transfer import access as host_access
from opsflow.transfer import servers, stream

__all__ = ["CopyDisk", "VerifyDisk"]

LOG = logging.getLogger(__name__)


def _both(access: str, source_cloud: str, source_server: str, destination_cloud: str,
          destination_server: str) -> tuple[servers.ServerDisk, servers.ServerDisk]:
    hosts = host_access.load(access)
    return (servers.locate(hosts, source_cloud, source_server),
            servers.locate(hosts, destination_cloud, destination_server))


class CopyDisk(Action):
    """Copy the source server's disk over the (stopped) destination server's disk."""

    def execute(self, source_cloud: str, source_server: str, destination_cloud: str, destination_server: str,
                delta: bool = False, access: str = "") -> dict[str, Any]:
        """``{"bytes_total", "bytes_sent", "sha256", "seconds", ...}`` of the pass."""
        source, destination = _both(access, source_cloud, source_server, destination_cloud, destination_server)
        if destination.running:
            raise TransferFailed(f"destination server {destination_server} is running on {destination.hypervisor}; "
                                 f"stop it first: its disk is about to be overwritten", host=destination.hypervisor)
        if delta and source.running:
            raise TransferFailed(f"source server {source_server} is still running on {source.hypervisor}; a delta "
                                 f"pass needs it stopped (a copy while it runs is the pre-copy: delta false)",
                                 host=source.hypervisor)
        done = stream.copy(source.end, destination.end, delta=delta)
        LOG.info("%s: %s %s:%s -> %s:%s, %d of %d bytes sent in %.1f s", self.name, "delta" if delta else "copy",
                 source.hypervisor, source.end.path, destination.hypervisor, destination.end.path,
                 done.bytes_sent, done.bytes_total, done.seconds)
        return {"bytes_total": done.bytes_total, "bytes_sent": done.bytes_sent, "sha256": done.sha256,
                "seconds": round(done.seconds, 3), "blocks_total": done.blocks_total,
                "blocks_sent": done.blocks_sent, "delta": delta, "source_running": source.running,
                "source_host": source.hypervisor, "destination_host": destination.hypervisor}

    def revert(self, destination_cloud: str, destination_server: str, access: str = "", **kwargs: Any) -> None:
        """Remove a partial copy beside the destination disk; nothing when the server is already gone."""
        try:
            destination = servers.locate(host_access.load(access), destination_cloud, destination_server)
        except (TransferFailed, CloudError) as exc:
            LOG.info("%s: nothing to clean up for %s (%s)", self.name, destination_server, exc)
            return
        if stream.cleanup(destination.end):
            LOG.info("%s: removed a partial copy beside %s", self.name, destination.end.path)


class VerifyDisk(Action):
    """Check that the two servers' disks hold the same bytes; fail when they differ."""

    def execute(self, source_cloud: str, source_server: str, destination_cloud: str, destination_server: str,
                access: str = "") -> dict[str, Any]:
        """``{"sha256", "bytes_total"}`` of the disk both ends hold."""
        source, destination = _both(access, source_cloud, source_server, destination_cloud, destination_server)
        ours, theirs = stream.checksums(source.end, destination.end)
        if ours.sha256 != theirs.sha256:
            raise ChecksumMismatch(
                f"disks differ: {source_server} on {source.hypervisor} has SHA-256 {ours.sha256} "
                f"({ours.bytes_total} bytes), {destination_server} on {destination.hypervisor} has "
                f"{theirs.sha256} ({theirs.bytes_total} bytes)", host=destination.hypervisor)
        return {"sha256": ours.sha256, "bytes_total": ours.bytes_total}

    def revert(self, **kwargs: Any) -> None:
        """Checking changed nothing."""
