"""The disk-transfer agent: the program that runs on each hypervisor, at either end of a copy.

opsflow ships this file's source over SSH (``python3 -c SOURCE MODE ...``) rather than installing
anything on compute nodes, so it imports nothing but the standard library and runs on the
hypervisor's own Python (3.7 or later). Two agents talk to each other through two pipes the caller
connects (source stdout to destination stdin and back); the caller never touches the bytes.

Modes (``MODE PATH BLOCK``):

* ``send``: read the disk at PATH and write the stream below to stdout;
* ``receive``: apply the stream from stdin to the disk at PATH;
* ``send-delta`` / ``receive-delta``: the same, but the receiver first streams a digest of each of
  its blocks back, and the sender sends only the blocks whose digests differ (rsync's idea, with
  fixed block boundaries: a disk's blocks do not shift);
* ``sum``: print the disk's SHA-256 and sizes (``verify`` and the per-server checksum).

The stream (sender to receiver)::

    b"OPSFLOW1" JSON-line {"size": N, "block": B}
    b"D" offset:u64 length:u32 bytes      data to write
    b"Z" offset:u64 length:u64            a range that must read as zeros (delta only)
    b"E" sha256:32                        end; SHA-256 of the sender's N logical bytes

Back (receiver to sender, delta only): one 16-byte digest (truncated SHA-256) per block of the
first N bytes of the receiver's disk, zeros past its end. Digests of holes cost nothing: a block
without data (``SEEK_DATA``) has the constant digest of zeros, so neither end reads it.

Sparseness: the sender finds data with ``SEEK_DATA``/``SEEK_HOLE`` and sends only data ranges that
are not all zeros; the receiver writes them into a fresh sparse file (``send``) or punches holes
for ``Z`` (delta), so holes stay holes. Memory: one block buffer per end, never the disk.

Each end prints one line ``OPSFLOW-RESULT {json}`` on stderr when it succeeds, or
``OPSFLOW-ERROR message`` and exits 2. The receiver compares its own SHA-256 of the result with
the sender's and fails (exit 3) when they differ.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import glob
import hashlib
import json
import os
import struct
import sys
import threading
from typing import Any, BinaryIO, Dict, Iterator, List, Optional, Tuple

MAGIC = b"OPSFLOW1"
RESULT = "OPSFLOW-RESULT "
ERROR = "OPSFLOW-ERROR "
PART_SUFFIX = ".opsflow-part"
DIGEST_BYTES = 16
#: How an end says that its peer went away (a consequence of the peer's failure, not a cause).
PEER_GONE = ("the other end closed the connection", "the other end stopped in the middle")
_HEAD_D = struct.Struct(">QI")
_HEAD_Z = struct.Struct(">QQ")
_ZERO_CHUNK = 1 << 20
_FALLOC_FL_KEEP_SIZE = 1
_FALLOC_FL_PUNCH_HOLE = 2


class AgentError(Exception):
    """A problem at this end, reported as one line to the caller."""


@functools.lru_cache(maxsize=8)
def _zeros(length: int) -> bytes:
    """Zeros to compare and hash against; cached, since nearly every block has the same length."""
    return bytes(length)


def block_digest(data: bytes) -> bytes:
    """The digest of one block's logical bytes (what both ends compare in a delta)."""
    return hashlib.sha256(data).digest()[:DIGEST_BYTES]


def _open_disk(path: str, flags: int) -> int:
    try:
        return os.open(path, flags)
    except FileNotFoundError:
        raise AgentError("no disk at %s" % path) from None
    except OSError as exc:
        raise AgentError("cannot open %s: %s" % (path, exc.strerror)) from None


def _first_data(fd: int, start: int, end: int) -> Optional[int]:
    """The first offset in [start, end) that holds data, or None for a hole."""
    try:
        pos = os.lseek(fd, start, os.SEEK_DATA)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # only a hole up to the end of the file
            return None
        raise
    return pos if pos < end else None


def data_ranges(fd: int, start: int, end: int) -> Iterator[Tuple[int, int]]:
    """The (offset, length) ranges of [start, end) that hold data (the rest are holes)."""
    pos = _first_data(fd, start, end)
    while pos is not None:
        hole = min(os.lseek(fd, pos, os.SEEK_HOLE), end)
        yield pos, hole - pos
        pos = _first_data(fd, hole, end) if hole < end else None


def _read_block(fd: int, offset: int, length: int) -> Optional[bytes]:
    """The block's bytes, or None when it is a hole (nothing to read)."""
    if _first_data(fd, offset, offset + length) is None:
        return None
    data = os.pread(fd, length, offset)
    if len(data) < length:  # the file shrank under us (a running VM truncating): zeros
        data += _zeros(length - len(data))
    return data


def _hash_zeros(sha: "hashlib._Hash", length: int) -> None:
    chunk = _zeros(min(length, _ZERO_CHUNK))
    while length > 0:
        step = min(length, len(chunk))
        sha.update(chunk[:step] if step < len(chunk) else chunk)
        length -= step


def _blocks(size: int, block: int) -> Iterator[Tuple[int, int]]:
    for offset in range(0, size, block):
        yield offset, min(block, size - offset)


def disk_sum(path: str, block: int) -> Dict[str, Any]:
    """SHA-256 of the disk's logical bytes (holes read as zeros) and how many bytes hold data."""
    fd = _open_disk(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        sha = hashlib.sha256()
        data_bytes = 0
        for offset, length in _blocks(size, block):
            data = _read_block(fd, offset, length)
            if data is None:
                _hash_zeros(sha, length)
            else:
                sha.update(data)
                data_bytes += length
        return {"sha256": sha.hexdigest(), "bytes_total": size, "bytes_data": data_bytes}
    finally:
        os.close(fd)


class _Out:
    """Unbuffered writes to a file descriptor, retried until complete."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.sent = 0

    def write(self, data: "bytes | memoryview") -> None:
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]
        self.sent += len(data)


def _read_exact(stream: BinaryIO, length: int, what: str) -> bytes:
    data = stream.read(length)
    if data is None or len(data) != length:
        raise AgentError("the other end stopped in the middle of the %s" % what)
    return data


def send(path: str, block: int, delta: bool, out: _Out, back: Optional[BinaryIO]) -> Dict[str, Any]:
    """Stream the disk at ``path``; with ``delta``, only blocks whose digest differs from ``back``'s."""
    fd = _open_disk(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        out.write(MAGIC + (json.dumps({"size": size, "block": block}) + "\n").encode())
        sha = hashlib.sha256()
        data_sent = blocks_sent = 0
        for offset, length in _blocks(size, block):
            data = _read_block(fd, offset, length)
            if data is not None and data == _zeros(length):
                data = None  # allocated zeros: a hole at the other end
            if data is None:
                _hash_zeros(sha, length)
            else:
                sha.update(data)
            if delta:
                assert back is not None
                theirs = _read_exact(back, DIGEST_BYTES, "block digests")
                ours = block_digest(data if data is not None else _zeros(length))
                if ours == theirs:
                    continue
                blocks_sent += 1
                out.write(b"Z" + _HEAD_Z.pack(offset, length))
            if data is None:
                continue
            if not delta:
                blocks_sent += 1
            for start, run in data_ranges(fd, offset, offset + length):
                piece = memoryview(data)[start - offset:start - offset + run]
                if piece != _zeros(run):
                    out.write(b"D" + _HEAD_D.pack(start, run))
                    out.write(piece)
                    data_sent += run
        digest = sha.digest()
        out.write(b"E" + digest)
        return {"sha256": digest.hex(), "bytes_total": size, "bytes_sent": out.sent,
                "bytes_data_sent": data_sent, "blocks_total": -(-size // block), "blocks_sent": blocks_sent}
    finally:
        os.close(fd)


def _punch(fd: int, offset: int, length: int) -> None:
    """Make [offset, offset+length) read as zeros, as a hole where the file system can."""
    libc = ctypes.CDLL(None, use_errno=True)
    fallocate = getattr(libc, "fallocate", None)
    if fallocate is not None:
        fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong]
        if fallocate(fd, _FALLOC_FL_PUNCH_HOLE | _FALLOC_FL_KEEP_SIZE, offset, length) == 0:
            return
    os.pwrite(fd, _zeros(length), offset)


def _send_digests(fd: int, size: int, block: int, back: _Out, failed: List[BaseException]) -> None:
    try:
        zero_digests: Dict[int, bytes] = {}
        for offset, length in _blocks(size, block):
            data = _read_block(fd, offset, length)
            if data is None:
                if length not in zero_digests:
                    zero_digests[length] = block_digest(_zeros(length))
                back.write(zero_digests[length])
            else:
                back.write(block_digest(data))
    except Exception as exc:  # reported by the main thread; the sender sees the pipe close
        failed.append(exc)
    finally:
        os.close(fd)
        os.close(back.fd)


def receive(path: str, delta: bool, stream: BinaryIO, back: Optional[_Out]) -> Dict[str, Any]:
    """Apply the stream to the disk at ``path`` (a fresh sparse file, or in place for a delta)."""
    header = stream.read(len(MAGIC))
    if header != MAGIC:
        raise AgentError("the other end closed the connection before any transfer stream")
    meta = json.loads(stream.readline())
    size, block = int(meta["size"]), int(meta["block"])
    # a file of this process's own: a second copy running at the same time (an at-least-once retry
    # whose first try is still alive) writes its own and renames it, and both hold the same bytes
    target = path if delta else "%s%s-%d" % (path, PART_SUFFIX, os.getpid())
    if not os.path.isdir(os.path.dirname(path) or "."):
        raise AgentError("no directory %s for the disk" % os.path.dirname(path))
    fd = os.open(target, os.O_RDWR | os.O_CREAT | (0 if delta else os.O_TRUNC), 0o644)
    failed: List[BaseException] = []
    digester = None
    try:
        if not delta:
            _copy_owner(path, fd)
        if delta:
            assert back is not None
            digester = threading.Thread(target=_send_digests, args=(os.dup(fd), size, block, back, failed))
            digester.start()
        sha = hashlib.sha256()
        written = 0
        position = 0
        while True:
            kind = _read_exact(stream, 1, "stream")
            if kind == b"D":
                offset, length = _HEAD_D.unpack(_read_exact(stream, _HEAD_D.size, "stream"))
                data = _read_exact(stream, length, "data")
                os.pwrite(fd, data, offset)
                written += length
                if not delta:
                    _hash_zeros(sha, offset - position)
                    sha.update(data)
                    position = offset + length
            elif kind == b"Z":
                offset, length = _HEAD_Z.unpack(_read_exact(stream, _HEAD_Z.size, "stream"))
                _punch(fd, offset, length)
            elif kind == b"E":
                theirs = _read_exact(stream, 32, "checksum").hex()
                break
            else:
                raise AgentError("unexpected frame %r in the stream" % kind)
        if digester is not None:
            digester.join()
            if failed:
                raise AgentError("reading the disk's blocks failed: %s" % failed[0])
        os.ftruncate(fd, size)
        os.fsync(fd)
        if delta:
            ours = disk_sum(path, block)["sha256"]
        else:
            _hash_zeros(sha, size - position)
            ours = sha.hexdigest()
    finally:
        os.close(fd)
    if ours != theirs:
        if not delta:
            os.unlink(target)
        raise ChecksumError("checksum mismatch at %s: received %s, the source sent %s" % (path, ours, theirs))
    if not delta:
        os.replace(target, path)
        _fsync_dir(os.path.dirname(path) or ".")
    return {"sha256": ours, "bytes_total": size, "bytes_written": written}


class ChecksumError(AgentError):
    """The disk written here does not have the sender's checksum."""


def _copy_owner(path: str, fd: int) -> None:
    """Give the new file the old disk's owner and mode (a hypervisor's disks belong to its VM user)."""
    try:
        old = os.stat(path)
    except FileNotFoundError:
        return
    os.fchmod(fd, old.st_mode & 0o7777)
    try:
        os.fchown(fd, old.st_uid, old.st_gid)
    except PermissionError:
        pass  # not root: the file stays ours, as it would after any copy


def _fsync_dir(directory: str) -> None:
    dfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def main(argv: List[str]) -> int:
    """Run one mode; report on stderr; return the exit status."""
    mode, path, block = argv[0], argv[1], int(argv[2])
    result: Dict[str, Any]
    try:
        if mode == "sum":
            result = disk_sum(path, block)
        elif mode == "cleanup":
            parts = glob.glob(glob.escape(path + PART_SUFFIX) + "*")
            for part in parts:
                os.unlink(part)
            result = {"removed": len(parts)}
        elif mode in ("send", "send-delta"):
            delta = mode == "send-delta"
            back = os.fdopen(0, "rb", buffering=1 << 16) if delta else None
            result = send(path, block, delta, _Out(1), back)
        elif mode in ("receive", "receive-delta"):
            delta = mode == "receive-delta"
            result = receive(path, delta, os.fdopen(0, "rb", buffering=1 << 20), _Out(1) if delta else None)
        else:
            raise AgentError("unknown mode %r" % mode)
    except ChecksumError as exc:
        sys.stderr.write(ERROR + str(exc) + "\n")
        return 3
    except BrokenPipeError:
        sys.stderr.write(ERROR + "the other end closed the connection\n")
        return 2
    except (AgentError, OSError) as exc:
        sys.stderr.write(ERROR + str(exc) + "\n")
        return 2
    sys.stderr.write(RESULT + json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
