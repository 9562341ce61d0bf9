"""Stream bytes into Swift as a Static Large Object, segments uploaded in parallel, hashed end to end.

A disk arrives as one sequential stream (Glance's download). It is cut into segments of
``segment_size`` bytes, each PUT by a worker of its own. When the stream's length is known (Glance
says it), every segment's length is too, so a segment's PUT starts with its first bytes and takes
them as they arrive: Swift is never idle while a whole segment fills, and a reader faster than
one PUT runs ahead into the next segment, whose PUT then streams alongside. (Unknown length: a
segment's PUT starts once it is full, as its length is then known.) A segment keeps its chunks as
they arrived (views, never joined into one buffer) until its PUT is done, so no byte is copied on
the client between the socket it came from and the one it leaves by, and swiftclient can rewind
it to retry a failed PUT. A semaphore of ``concurrency`` slots is taken before a segment is
started, so at most ``concurrency`` segments are ever in memory -- never the whole disk.

Each segment's MD5 is checked against the ETag Swift answers with (as SwiftService does), so a
segment whose bytes changed on the way fails the upload. SHA-256 (and, when asked, the source's
own hash, e.g. Glance's ``os_hash_value``) is computed over the stream as it passes, so the
checksum is of exactly the bytes that were read, not of a second read. The SLO manifest is
written last and lists every segment with its ETag and size: Swift checks them, and until that
PUT succeeds there is no disk object, only segments (which a revert removes by prefix).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping

from opsflow.errors import ObjectStoreError
from opsflow.hibernate.swift import Swift

__all__ = ["Uploaded", "hash_object", "upload"]

LOG = logging.getLogger(__name__)

#: Default segment size: large enough that per-request costs vanish, small enough to buffer a few.
SEGMENT_SIZE = 64 << 20
#: Default number of segments in flight.
CONCURRENCY = 4


@dataclasses.dataclass(frozen=True)
class Uploaded:
    """What an upload stored."""

    #: Bytes.
    size: int
    #: SHA-256 of the bytes, hex.
    sha256: str
    #: Number of segments.
    segments: int
    #: Hex digest of the extra hash asked for (``extra_hash``), or "".
    extra_digest: str
    #: Seconds the upload took.
    seconds: float
    #: Of those, seconds the reader waited for the source's next bytes (a slow source shows here).
    source_seconds: float = 0.0
    #: Of those, seconds the reader waited for a segment slot, i.e. for Swift to take segments.
    swift_seconds: float = 0.0


def upload(swift: Swift, chunks: Iterable[bytes], *, container: str, name: str, segment_container: str,
           segment_prefix: str, headers: Mapping[str, str], segment_size: int = SEGMENT_SIZE,
           concurrency: int = CONCURRENCY, extra_hash: str = "", length: int | None = None) -> Uploaded:
    """Store ``chunks`` as SLO ``container/name``; ``headers`` go on the manifest object (metadata).

    Segments are ``<segment_prefix><8-digit index>`` in ``segment_container``. ``extra_hash``
    names a hashlib algorithm also computed over the stream (to compare with the source's own).
    ``length``, the stream's bytes when known, lets each segment's PUT start with its first bytes;
    a stream that ends before it (or goes on after it) fails the upload.
    """
    if segment_size < 1 << 20:
        raise ObjectStoreError(f"segment size {segment_size} is below Swift's 1 MiB minimum for SLO segments", status=0)
    started = time.monotonic()
    sha = hashlib.sha256()
    extra = hashlib.new(extra_hash) if extra_hash else None
    slots = threading.Semaphore(concurrency)
    segments: list[_Segment] = []
    futures: list[concurrent.futures.Future[str]] = []
    waits = _Waits()

    def put_segment(index: int, segment: _Segment) -> str:
        try:
            etag = swift.put(segment_container, f"{segment_prefix}{index:08d}", segment, content_length=segment.length())
            if etag.strip('"') != segment.md5():
                raise ObjectStoreError(f"Swift: segment {index} of {container}/{name} was stored with ETag {etag}, "
                                       f"not the MD5 of the bytes sent; the upload is retried from the start", status=0)
            return etag
        finally:
            segment.release()
            slots.release()

    def start(segment: _Segment) -> None:
        segments.append(segment)
        futures.append(pool.submit(put_segment, len(segments) - 1, segment))

    with concurrent.futures.ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="slo") as pool:
        try:
            for chunk, segment, fresh in _cut(chunks, segment_size, length, slots, waits):
                sha.update(chunk)
                if extra is not None:
                    extra.update(chunk)
                if fresh and length is not None:
                    start(segment)
                if segment.full() and length is None:
                    start(segment)
                _raise_first_failure(futures)
        except BaseException:
            for segment in segments:
                segment.abort()  # a PUT waiting for bytes that will not come fails now instead of hanging
            raise
        finally:
            concurrent.futures.wait(futures)  # no segment PUT outlives the call, even on failure
    etags = [future.result() for future in futures]
    entries: list[dict[str, object]] = [
        {"path": f"/{segment_container}/{segment_prefix}{index:08d}", "size_bytes": segment.size, "etag": etag}
        for index, (segment, etag) in enumerate(zip(segments, etags))]
    if not entries:  # an empty disk is one empty segment: an SLO needs at least one
        etag = swift.put(segment_container, f"{segment_prefix}{0:08d}", b"")
        entries.append({"path": f"/{segment_container}/{segment_prefix}{0:08d}", "size_bytes": 0, "etag": etag})
    swift.put(container, name, json.dumps(entries).encode(), headers=headers, query="multipart-manifest=put")
    seconds = time.monotonic() - started
    size = sum(segment.size for segment in segments)
    LOG.info("stored %s/%s: %d bytes in %d segments, %.1f MB/s (%.1f s waiting for the source, %.1f s for Swift)",
             container, name, size, len(entries), size / max(seconds, 1e-9) / 1e6, waits.source, waits.swift)
    return Uploaded(size=size, sha256=sha.hexdigest(), segments=len(entries),
                    extra_digest=extra.hexdigest() if extra is not None else "", seconds=seconds,
                    source_seconds=waits.source, swift_seconds=waits.swift)


class _Segment:
    """One segment's bytes on their way: the reader adds pieces, the PUT reads them out as they come
    (a file-like for swiftclient); ``seek(0)`` rewinds it for a retry while the pieces are kept."""

    def __init__(self, expected: int | None) -> None:
        #: Bytes this segment must have (None: as many as the stream gives, up to the segment size).
        self.expected = expected
        self.size = 0
        self._pieces: list[memoryview] = []
        self._closed = False
        self._failed = ""
        self._changed = threading.Condition()
        self._piece = self._offset = self._done = 0

    def add(self, piece: memoryview) -> None:
        """Append bytes (kept as given, not copied)."""
        with self._changed:
            self._pieces.append(piece)
            self.size += len(piece)
            self._changed.notify_all()

    def close(self) -> None:
        """No more bytes come."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def abort(self) -> None:
        """The stream failed: a PUT still reading fails too."""
        with self._changed:
            self._failed = self._failed or "the source stream failed"
            self._changed.notify_all()

    def full(self) -> bool:
        """True once closed."""
        return self._closed

    def length(self) -> int:
        """Bytes the PUT sends."""
        return self.expected if self.expected is not None else self.size

    def md5(self) -> str:
        """Hex MD5 of the bytes (once closed)."""
        digest = hashlib.md5(usedforsecurity=False)
        for piece in self._pieces:
            digest.update(piece)
        return digest.hexdigest()

    def release(self) -> None:
        """Drop the bytes (the PUT is over)."""
        self._pieces = []

    def read(self, size: int = -1) -> memoryview | bytes:
        """Up to ``size`` bytes of what arrived (all of the current piece when negative), waiting for
        more while the segment is open; b"" at its end."""
        with self._changed:
            while True:
                if self._failed:
                    raise ObjectStoreError(f"Swift: segment upload stopped: {self._failed}", status=0)
                while self._piece < len(self._pieces) and self._offset >= len(self._pieces[self._piece]):
                    self._piece, self._offset = self._piece + 1, 0
                if self._piece < len(self._pieces):
                    piece = self._pieces[self._piece]
                    end = len(piece) if size < 0 else min(len(piece), self._offset + size)
                    out, self._offset = piece[self._offset:end], end
                    self._done += len(out)
                    return out
                if self._closed:
                    if self.expected is not None and self.size < self.expected:
                        raise ObjectStoreError(f"Swift: segment upload stopped: {self.size} of its "
                                               f"{self.expected} bytes came", status=0)
                    return b""
                self._changed.wait()

    def tell(self) -> int:
        """Bytes read so far."""
        return self._done

    def seek(self, position: int, whence: int = 0) -> int:
        """Rewind to the start (the only position a retry asks for)."""
        if (position, whence) != (0, 0):
            raise ValueError(f"a segment rewinds only to its start, not to {position} (whence {whence})")
        with self._changed:
            self._piece = self._offset = self._done = 0
        return 0


@dataclasses.dataclass
class _Waits:
    """Where the reading thread waited: for the source's bytes, for a free segment slot."""

    source: float = 0.0
    swift: float = 0.0

    def slot(self, slots: threading.Semaphore) -> None:
        began = time.monotonic()
        slots.acquire()
        self.swift += time.monotonic() - began

    def read(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        source = iter(chunks)
        while True:
            began = time.monotonic()
            chunk = next(source, None)
            self.source += time.monotonic() - began
            if chunk is None:
                return
            yield chunk


def _cut(chunks: Iterable[bytes], segment_size: int, length: int | None, slots: threading.Semaphore,
         waits: _Waits) -> Iterator[tuple[memoryview, _Segment, bool]]:
    """(piece, its segment, whether the piece opened the segment) for every piece of the stream, cut at
    segment boundaries; a slot is taken before a segment opens, and it is closed once full or the stream ends."""
    segment: _Segment | None = None
    seen = 0

    def expected() -> int | None:
        return None if length is None else min(segment_size, length - seen)

    for chunk in waits.read(chunks):
        view = memoryview(chunk)
        while view:
            fresh = segment is None
            if segment is None:
                if length is not None and seen >= length:
                    raise ObjectStoreError(f"the source gave more than the {length} bytes it announced", status=0)
                waits.slot(slots)
                segment = _Segment(expected())
            room = (segment_size if segment.expected is None else segment.expected) - segment.size
            piece, view = view[:room], view[room:]
            segment.add(piece)
            seen += len(piece)
            if segment.size == segment_size or segment.size == segment.expected:
                segment.close()
            yield piece, segment, fresh
            if segment.full():
                segment = None
    if length is not None and seen != length:
        raise ObjectStoreError(f"the source ended after {seen} of the {length} bytes it announced", status=0)
    if segment is not None:
        segment.close()
        yield memoryview(b""), segment, False


def _raise_first_failure(futures: list[concurrent.futures.Future[str]]) -> None:
    for future in futures:
        if future.done() and future.exception() is not None:
            future.result()


def hash_object(swift: Swift, container: str, name: str) -> tuple[int, str]:
    """(bytes, SHA-256 hex) of an object as Swift serves it now (an SLO: its segments joined)."""
    _headers, chunks = swift.stream(container, name)
    sha, size = hashlib.sha256(), 0
    for chunk in chunks:
        sha.update(chunk)
        size += len(chunk)
    return size, sha.hexdigest()
