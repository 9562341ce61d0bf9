"""Disks copied host to host through the devcloud's real sshds: bytes, holes, deltas, checksums, failures."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import socket
import subprocess
from pathlib import Path

import pytest

from opsflow.errors import TransferFailed
from opsflow.tasks import slots
from opsflow.transfer import stream
from tests.fixtures import recorded_slots

from .conftest import MakeDisk, random_bytes

pytestmark = pytest.mark.functional

MIB = 1 << 20


def allocated(end: stream.DiskEnd) -> int:
    """Bytes the file system allocated to the disk file."""
    return os.stat(end.path).st_blocks * 512


def parts(end: stream.DiskEnd) -> list[Path]:
    """Partial copies beside a disk."""
    return list(Path(end.path).parent.glob(Path(end.path).name + ".opsflow-part*"))


def test_copy_moves_every_byte_and_keeps_holes(disk: MakeDisk) -> None:
    """A sparse disk arrives byte-identical, with the same checksum at both ends and its holes still holes."""
    source = disk("source", {0: random_bytes(3 * MIB), 40 * MIB: random_bytes(100_000)}, 64 * MIB)
    destination = disk("destination", {0: b"old bytes"}, 8 * MIB)
    done = stream.copy(source, destination)
    data = Path(source.path).read_bytes()
    assert Path(destination.path).read_bytes() == data
    assert done.sha256 == hashlib.sha256(data).hexdigest()
    assert done.bytes_total == 64 * MIB
    assert 3 * MIB + 100_000 <= done.bytes_sent < 3 * MIB + 100_000 + 64 * 1024
    assert allocated(destination) <= allocated(source) + 64 * 1024
    assert parts(destination) == []


def test_allocated_zeros_become_holes(disk: MakeDisk) -> None:
    """Zeros the source wrote out are not sent and take no space at the destination."""
    source = disk("source", {0: bytes(8 * MIB), 8 * MIB: b"end"}, 16 * MIB)
    destination = disk("destination", {}, 0)
    done = stream.copy(source, destination)
    assert Path(destination.path).read_bytes() == Path(source.path).read_bytes()
    assert done.bytes_sent < MIB
    assert allocated(destination) < MIB


def test_delta_sends_only_the_changed_blocks(disk: MakeDisk) -> None:
    """After a full copy, a delta pass sends exactly the blocks written since, including ones zeroed."""
    source = disk("source", {0: random_bytes(12 * MIB)}, 32 * MIB)
    destination = disk("destination", {}, 0)
    stream.copy(source, destination)
    with open(source.path, "r+b") as out:
        for block in (1, 5, 20):  # two data blocks and a hole rewritten
            out.seek(block * MIB + 4096)
            out.write(random_bytes(1000))
        out.seek(7 * MIB)
        out.write(bytes(MIB))  # a data block zeroed
    done = stream.copy(source, destination, delta=True)
    assert Path(destination.path).read_bytes() == Path(source.path).read_bytes()
    assert done.blocks_sent == 4
    assert done.blocks_total == 32
    assert done.bytes_sent < 3 * MIB + 4096
    again = stream.copy(source, destination, delta=True)
    assert (again.blocks_sent, again.sha256) == (0, done.sha256)


def test_a_paced_copy_and_delta_arrive_whole_and_charge_each_host_what_crossed(disk: MakeDisk) -> None:
    """With byte rates set the stream goes through the relay: the disk arrives byte-identical, full copy and
    delta alike, and both hosts' buckets are charged exactly the bytes each pass sent."""
    source = disk("source", {0: random_bytes(6 * MIB), 20 * MIB: random_bytes(MIB)}, 32 * MIB)
    destination = disk("destination", {}, 0)
    rates = [slots.Rate("forklift/bytes/source/s/h1", 1 << 40), slots.Rate("forklift/bytes/destination/d/h2", 1 << 40)]
    with recorded_slots() as recording, slots.pacing(rates):
        done = stream.copy(source, destination)
        assert Path(destination.path).read_bytes() == Path(source.path).read_bytes()
        assert recording.units() == {rate: done.bytes_sent for rate in rates}
        with open(source.path, "r+b") as out:
            out.seek(3 * MIB)
            out.write(random_bytes(1000))
        recording.reserved.clear()
        delta = stream.copy(source, destination, delta=True)
    assert Path(destination.path).read_bytes() == Path(source.path).read_bytes()
    assert delta.blocks_sent == 1
    assert recording.units() == {rate: delta.bytes_sent for rate in rates}


def test_delta_against_a_different_size_fixes_the_size(disk: MakeDisk) -> None:
    """A delta onto a larger or smaller destination leaves exactly the source's bytes and size."""
    source = disk("source", {0: random_bytes(2 * MIB)}, 5 * MIB + 123)
    for size in (2 * MIB, 9 * MIB):
        destination = disk("destination", {0: random_bytes(size)}, size)
        stream.copy(source, destination, delta=True)
        assert Path(destination.path).read_bytes() == Path(source.path).read_bytes()


def test_verify_fails_on_one_tampered_byte(disk: MakeDisk) -> None:
    """Checksums computed on each host differ after a single byte of the copy changed."""
    source = disk("source", {MIB: random_bytes(MIB)}, 4 * MIB)
    destination = disk("destination", {}, 0)
    stream.copy(source, destination)
    ours, theirs = stream.checksums(source, destination)
    assert ours == theirs
    with open(destination.path, "r+b") as out:
        out.seek(MIB + 77)
        byte = out.read(1)
        out.seek(MIB + 77)
        out.write(bytes([byte[0] ^ 1]))
    ours, theirs = stream.checksums(source, destination)
    assert ours.sha256 != theirs.sha256
    assert ours.bytes_total == theirs.bytes_total


def test_a_retried_copy_after_an_interruption_leaves_one_good_disk(disk: MakeDisk) -> None:
    """Partial files of interrupted copies never become the disk; the next copy and cleanup leave none."""
    source = disk("source", {0: random_bytes(MIB)}, 2 * MIB)
    destination = disk("destination", {0: b"keep me"}, MIB)
    for attempt in (1, 2):
        Path(f"{destination.path}.opsflow-part-{attempt}").write_bytes(b"half a disk")
    assert stream.cleanup(destination) == 2
    assert stream.cleanup(destination) == 0
    stream.copy(source, destination)
    stream.copy(source, destination)
    assert Path(destination.path).read_bytes() == Path(source.path).read_bytes()
    assert parts(destination) == []


def test_missing_source_disk_is_one_line(disk: MakeDisk) -> None:
    """A source disk that is not there fails naming the host and the path; the destination is untouched."""
    source = disk("source", {}, 0)
    destination = disk("destination", {0: b"keep me"}, MIB)
    os.unlink(source.path)
    with pytest.raises(TransferFailed) as caught:
        stream.copy(source, destination)
    assert str(caught.value) == f"{source.host.hypervisor}: no disk at {source.path}"
    assert Path(destination.path).read_bytes()[:7] == b"keep me"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_host_is_one_clear_line(disk: MakeDisk) -> None:
    """A hypervisor whose sshd does not answer fails with one line naming it, its address and the cause."""
    source = disk("source", {0: b"x"}, MIB)
    port = _free_port()
    dead = dataclasses.replace(source.host, ssh=dataclasses.replace(source.host.ssh, port=port))
    with pytest.raises(TransferFailed) as caught:
        stream.checksum(stream.DiskEnd(dead, source.path))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"cannot reach hypervisor {source.host.hypervisor} over SSH as "
                              f"root@127.0.0.1:{port}: ")
    assert "Connection refused" in message


def test_refused_key_is_one_clear_line(disk: MakeDisk, tmp_path: Path) -> None:
    """A key the sshd does not accept fails with one line saying the key was refused, for either end."""
    source = disk("source", {0: b"x"}, MIB)
    destination = disk("destination", {}, 0)
    key = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    stranger = dataclasses.replace(destination.host, ssh=dataclasses.replace(destination.host.ssh, key=key))
    with pytest.raises(TransferFailed) as caught:
        stream.copy(source, stream.DiskEnd(stranger, destination.path))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"cannot reach hypervisor {destination.host.hypervisor} over SSH")
    assert "Permission denied (publickey)" in message

