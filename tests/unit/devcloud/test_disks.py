"""The simulated disks' layout: image bytes, a per-instance stamp, then a hole."""

from __future__ import annotations

import io
import os
from pathlib import Path

from opsflow.plugins.nova import disks


def test_stamp_is_deterministic_and_per_instance() -> None:
    """The same image and instance give the same stamp; another instance gives another."""
    assert disks.stamp("img", "vm-1") == disks.stamp("img", "vm-1")
    assert disks.stamp("img", "vm-1") != disks.stamp("img", "vm-2")
    assert len(disks.stamp("img", "vm-1")) == disks.STAMP_BYTES


def test_disk_is_image_then_stamp_then_hole(tmp_path: Path) -> None:
    """The disk starts with the image, has the stamp at the next MiB and is sparse up to its size."""
    image = os.urandom(1500)
    path = tmp_path / "h" / "vm.disk"
    size = disks.write_disk(path, io.BytesIO(image), "img", "vm", disks.disk_bytes(1, 16))
    data = path.read_bytes()
    assert size == len(data) == 16 << 20
    assert data[:1500] == image
    assert data[disks.ALIGN:disks.ALIGN + disks.STAMP_BYTES] == disks.stamp("img", "vm")
    assert path.stat().st_blocks * 512 < 1 << 20


def test_disk_grows_past_its_size_for_a_large_image(tmp_path: Path) -> None:
    """An image larger than the flavor's disk still fits, with the stamp after it."""
    path = tmp_path / "vm.disk"
    size = disks.write_disk(path, io.BytesIO(b"x" * (3 << 20)), "img", "vm", 1 << 20)
    assert size == (3 << 20) + disks.STAMP_BYTES


def test_writing_again_gives_the_same_bytes(tmp_path: Path) -> None:
    """Rewriting a disk (a retried spawn) produces identical content and leaves no temp file."""
    path = tmp_path / "vm.disk"
    disks.write_disk(path, io.BytesIO(b"abc"), "img", "vm", 2 << 20)
    first = disks.file_sha256(path)
    disks.write_disk(path, io.BytesIO(b"abc"), "img", "vm", 2 << 20)
    assert disks.file_sha256(path) == first
    assert [p.name for p in tmp_path.iterdir()] == ["vm.disk"]
