"""The simulated VMs' disks: sparse files with deterministic, verifiable content.

A simulated VM owns one file, ``<disk_dir>/<host>/<instance uuid>.disk``. Its layout is what a
migration or a hibernation has to move byte-for-byte:

* offset 0: the bytes of the image the VM booted from (empty when it booted from nothing);
* at the next MiB boundary: a 64 KiB *stamp* that only this instance has, derived from its image id
  and its own id, so two VMs of the same image differ and a copy can be traced to its source;
* then a hole up to the flavor's root disk size (scaled, see ``disk_bytes``), which costs nothing on
  the file system but is still part of the disk a mover must carry.

Nothing here imports nova, so it is usable (and tested) outside nova-compute.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "ALIGN",
    "STAMP_BYTES",
    "disk_bytes",
    "file_sha256",
    "stamp",
    "stamp_offset",
    "write_disk",
]

#: Instance stamps start on a boundary of this many bytes after the image bytes.
ALIGN = 1 << 20
#: Length of the per-instance stamp.
STAMP_BYTES = 64 << 10
_CHUNK = 1 << 20


def stamp(image_id: str, instance_uuid: str, length: int = STAMP_BYTES) -> bytes:
    """Return the deterministic bytes that identify one instance's disk (SHA-256 in counter mode)."""
    seed = f"opsflow-sim:{image_id}:{instance_uuid}".encode()
    out = bytearray()
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(seed + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:length])


def stamp_offset(image_size: int) -> int:
    """Where the stamp goes after ``image_size`` bytes of image: the next ALIGN boundary."""
    return -(-image_size // ALIGN) * ALIGN


def disk_bytes(root_gb: int, mib_per_gb: int) -> int:
    """The apparent size of a disk of ``root_gb`` GB when one GB is simulated by ``mib_per_gb`` MiB.

    Scaling keeps hundreds of simulated VMs (and their snapshots) cheap while the bytes stay real.
    """
    return max(root_gb, 0) * mib_per_gb * (1 << 20)


def write_disk(path: Path, image: BinaryIO | None, image_id: str, instance_uuid: str, size: int) -> int:
    """Create the disk file at ``path`` (image bytes, stamp, hole up to ``size``); return its size.

    The file is written under a temporary name and renamed, so a crash never leaves half a disk
    under the real name; writing it again gives the same bytes.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as out:
        if image is not None:
            shutil.copyfileobj(image, out, _CHUNK)
        offset = stamp_offset(out.tell())
        out.seek(offset)
        out.write(stamp(image_id, instance_uuid))
        final = max(size, out.tell())
        out.truncate(final)
    os.replace(tmp, path)
    return final


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's full apparent content (holes read as zeros)."""
    digest = hashlib.sha256()
    with open(path, "rb") as src:
        for chunk in iter(lambda: src.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
