"""Disk transfer between hypervisors over SSH: streamed, sparse-aware, checksummed at both ends.

``access`` reads the host-access file (how to reach each cloud's hypervisors, where disks lie);
``servers`` finds a server's disk from its admin view; ``stream`` copies a disk host to host (all
of it, or only the blocks whose digests differ) and checksums disks in place; ``agent`` is the
standard-library program that runs at each end; ``domains`` asks libvirt on KVM hosts.
``transfer.copy_disk`` and ``transfer.verify_disk`` (``opsflow/tasks/transfer.py``) are the
actions flows use; :func:`disk_checksum` is for code that needs one server's disk checksum.
"""

from opsflow.transfer.servers import ServerDisk, disk_checksum, locate
from opsflow.transfer.stream import CopyResult, DiskEnd, DiskSum

__all__ = ["CopyResult", "DiskEnd", "DiskSum", "ServerDisk", "disk_checksum", "locate"]
