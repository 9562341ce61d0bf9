"""Copying a disk from one hypervisor to another, and checksumming a disk where it lies.

A copy is two agents (``agent.py``), one on each host, each behind its own ``ssh``; this module
connects the source's stdout to the destination's stdin and the destination's stdout to the
source's stdin (the delta's block digests flow back that way), so the bytes go host to host
through the two SSH connections and never through a buffer here -- unless the transfer is paced
(:func:`opsflow.tasks.slots.byte_rates`): then a thread here relays the source's stream to the
destination chunk by chunk, each chunk waiting for its bytes' share of the rate. Each end reports on its stderr;
the first real failure (a host that cannot be reached before a peer that merely saw the pipe
close) becomes the one error line.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from collections.abc import Sequence
from typing import Any

from opsflow.errors import ChecksumMismatch, TransferFailed
from opsflow.tasks import slots
from opsflow.transfer import ssh
from opsflow.transfer.access import Host

__all__ = ["CopyResult", "DiskEnd", "DiskSum", "checksum", "checksums", "cleanup", "copy"]


@dataclass(frozen=True)
class DiskEnd:
    """A disk file on a hypervisor."""

    #: The hypervisor and how to reach it.
    host: Host
    #: The disk's path there.
    path: str


@dataclass(frozen=True)
class CopyResult:
    """What one copy or delta pass did."""

    #: The disk's logical size.
    bytes_total: int
    #: Bytes that crossed the wire from the source (data and framing; holes and equal blocks cost nothing).
    bytes_sent: int
    #: SHA-256 of the disk's logical bytes, the same at both ends.
    sha256: str
    #: Wall time of the pass.
    seconds: float
    #: Blocks of the disk, and those sent.
    blocks_total: int
    blocks_sent: int


@dataclass(frozen=True)
class DiskSum:
    """A disk's checksum where it lies."""

    #: SHA-256 of its logical bytes (holes read as zeros).
    sha256: str
    #: Logical size, and bytes that hold data.
    bytes_total: int
    bytes_data: int


def _spawn(argv: list[str], stdin: int, stdout: int) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE)
    except FileNotFoundError as exc:
        raise TransferFailed("no `ssh` client on this machine; install openssh-client") from exc


def _finish(procs: list[subprocess.Popen[bytes]]) -> list[tuple[int, str]]:
    """Wait for every process, reading their stderr concurrently; (returncode, stderr) each."""
    out: list[tuple[int, str]] = [(0, "")] * len(procs)

    def collect(index: int) -> None:
        proc = procs[index]
        assert proc.stderr is not None
        with proc.stderr:
            err = proc.stderr.read().decode(errors="replace")
        out[index] = (proc.wait(), err)

    threads = [threading.Thread(target=collect, args=(i,)) for i in range(len(procs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return out


#: Bytes a paced relay reads and forwards at once.
RELAY_CHUNK = 1 << 20


def _relay(source_fd: int, destination_fd: int, rates: Sequence[slots.Rate]) -> None:
    """Forward the sender's stream to the receiver, pacing each chunk; close both ends when done.

    A receiver that went away (EPIPE) ends the relay, and closing the read end makes the sender see
    its own broken pipe: both agents then report, and the copy fails with the more telling line.
    """
    try:
        while chunk := os.read(source_fd, RELAY_CHUNK):
            slots.pace(rates, len(chunk))
            view = memoryview(chunk)
            while view:
                view = view[os.write(destination_fd, view):]
    except OSError:
        pass
    finally:
        os.close(source_fd)
        os.close(destination_fd)


def _results(ends: list[tuple[Host, int, str]]) -> list[dict[str, Any]]:
    """Each end's result; raise the most telling failure of the ends that failed."""
    failed = sorted((ssh.severity(code, err), index) for index, (_, code, err) in enumerate(ends) if code != 0)
    if failed:
        host, code, err = ends[failed[0][1]]
        ssh.result(host, code, err)  # raises the failure's one line
    return [ssh.result(host, code, err) for host, code, err in ends]


def copy(source: DiskEnd, destination: DiskEnd, *, delta: bool = False, block: int = ssh.BLOCK) -> CopyResult:
    """Copy the source disk over the destination disk: all of it, or (``delta``) the blocks that differ.

    A full copy writes a new file beside the destination disk and renames it over the disk once its
    checksum matches, so a failed copy leaves the old disk as it was; a delta changes the disk in
    place. Either way a second run is safe: it copies again, or sends what still differs.
    """
    started = time.monotonic()
    suffix = "-delta" if delta else ""
    rates = slots.byte_rates()
    to_destination_r, to_destination_w = os.pipe()
    to_source_r, to_source_w = os.pipe()
    # paced, the sender writes into a pipe of ours and the relay forwards it into the receiver's stdin
    from_source_r, from_source_w = os.pipe() if rates else (-1, to_destination_w)
    relay_ends = (from_source_r, to_destination_w)
    try:
        sender = _spawn(ssh.agent_argv(source.host, "send" + suffix, source.path, block),
                        to_source_r, from_source_w)
        try:
            receiver = _spawn(ssh.agent_argv(destination.host, "receive" + suffix, destination.path, block),
                              to_destination_r, to_source_w)
        except BaseException:
            sender.kill()
            sender.wait()
            raise
    except BaseException:
        if rates:
            os.close(from_source_r)
            os.close(to_destination_w)
        raise
    finally:
        for fd in {to_destination_r, from_source_w, to_source_r, to_source_w, *(() if rates else relay_ends)} - {-1}:
            os.close(fd)
    relay = threading.Thread(target=_relay, args=(*relay_ends, rates), name="opsflow-relay", daemon=True)
    if rates:
        relay.start()
    (send_code, send_err), (recv_code, recv_err) = _finish([sender, receiver])
    if rates:
        relay.join()
    sent, received = _results([(source.host, send_code, send_err), (destination.host, recv_code, recv_err)])
    if sent["sha256"] != received["sha256"]:
        raise ChecksumMismatch(f"{destination.host.hypervisor}: disk {destination.path} has SHA-256 "
                               f"{received['sha256']}, the source sent {sent['sha256']}",
                               host=destination.host.hypervisor)
    return CopyResult(bytes_total=int(sent["bytes_total"]), bytes_sent=int(sent["bytes_sent"]),
                      sha256=str(sent["sha256"]), seconds=time.monotonic() - started,
                      blocks_total=int(sent["blocks_total"]), blocks_sent=int(sent["blocks_sent"]))


def _run(end: DiskEnd, mode: str) -> dict[str, Any]:
    proc = _spawn(ssh.agent_argv(end.host, mode, end.path), subprocess.DEVNULL, subprocess.DEVNULL)
    [(code, err)] = _finish([proc])
    return ssh.result(end.host, code, err)


def checksum(end: DiskEnd) -> DiskSum:
    """SHA-256 and sizes of one disk, computed on its host (only the answer crosses the wire)."""
    found = _run(end, "sum")
    return DiskSum(str(found["sha256"]), int(found["bytes_total"]), int(found["bytes_data"]))


def checksums(*ends: DiskEnd) -> list[DiskSum]:
    """The checksums of several disks, computed on their hosts at the same time."""
    with ThreadPoolExecutor(max_workers=max(1, len(ends))) as pool:
        return list(pool.map(checksum, ends))


def cleanup(end: DiskEnd) -> int:
    """Remove what interrupted full copies left beside the disk; how many files there were."""
    return int(_run(end, "cleanup")["removed"])
