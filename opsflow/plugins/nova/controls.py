"""Run-time controls of the simulated hypervisors: flag files an operator or a test can set, and a
running guest's writes to its disk.

Nothing here imports nova, so tests and opsflow's own tools can drive the simulator from outside.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from opsflow.errors import InvalidState

__all__ = ["DIRTY_BLOCK", "SILENT_FLAG", "dirty_blocks", "is_silenced", "silence", "unsilence"]

#: A file of this name in a host's disk directory stops that host's heartbeat.
SILENT_FLAG = "SILENT"


def silence(disk_dir: Path, host: str) -> None:
    """Make ``host`` stop reporting to the control plane (its VMs keep running)."""
    (disk_dir / host).mkdir(parents=True, exist_ok=True)
    (disk_dir / host / SILENT_FLAG).touch()


def unsilence(disk_dir: Path, host: str) -> None:
    """Let ``host`` report again."""
    (disk_dir / host / SILENT_FLAG).unlink(missing_ok=True)


def is_silenced(disk_dir: Path, host: str) -> bool:
    """True while ``host`` is flagged silent."""
    return (disk_dir / host / SILENT_FLAG).exists()


#: The block size of :func:`dirty_blocks` by default: the disk transfer's own block size.
DIRTY_BLOCK = 1 << 20
#: nova's power_state of a running VM, as the driver records it.
_RUNNING = 1


def dirty_blocks(disk_dir: Path, host: str, instance_uuid: str, share: float, *, block: int = DIRTY_BLOCK,
                 seed: int | None = None) -> int:
    """Write new bytes over ``share`` of a running VM's disk blocks, as its guest would; return how many.

    The blocks are chosen at random over the whole disk (holes included, as a guest writes where it
    likes), so a warm migration's delta pass has exactly that share to send. A VM that is not
    running writes nothing: InvalidState.
    """
    if not 0 <= share <= 1:
        raise ValueError(f"share {share} is not between 0 and 1")
    vm_dir = disk_dir / host
    try:
        record = json.loads((vm_dir / f"{instance_uuid}.json").read_text())
    except (OSError, ValueError) as exc:
        raise InvalidState(f"no simulated VM {instance_uuid} on {host} ({exc})") from exc
    if record.get("state") != _RUNNING:
        raise InvalidState(f"VM {instance_uuid} on {host} is not running; only a running guest writes to its disk")
    disk = vm_dir / f"{instance_uuid}.disk"
    size = disk.stat().st_size
    blocks = -(-size // block)
    count = min(blocks, max(1 if share else 0, round(share * blocks)))
    rng = random.Random(seed)
    with open(disk, "r+b") as out:
        for index in sorted(rng.sample(range(blocks), count)):
            out.seek(index * block)
            out.write(rng.randbytes(min(block, size - index * block)))
    return count
