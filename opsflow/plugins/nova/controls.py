"""Run-time controls of the simulated hypervisors: flag files an operator or a test can set.

Nothing here imports nova, so tests and opsflow's own tools can drive the simulator from outside.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["SILENT_FLAG", "is_silenced", "silence", "unsilence"]

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
