"""Stream bytes into Swift as a Static Large Object, segments uploaded in parallel, hashed end to end.

A disk arrives as one sequential stream (Glance's download). It is cut into segments of
``segment_size`` bytes; each full segment is handed to a worker that PUTs it with its MD5 as the
ETag (Swift refuses a segment whose bytes changed on the way), while the reader goes on filling
the next one. A semaphore of ``concurrency`` slots is taken before a segment buffer is filled, so
at most ``concurrency`` segments are ever in memory — never the whole disk. SHA-256 (and, when
asked, the source's own hash, e.g. Glance's ``os_hash_value``) is computed over the stream as it
passes, so the checksum is of exactly the bytes that were read, not of a second read. The SLO
manifest is written last and lists every segment with its ETag and size: Swift checks them, and
until that PUT succeeds there is no disk object, only segments (which a revert removes by prefix).
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


def upload(swift: Swift, chunks: Iterable[bytes], *, container: str, name: str, segment_container: str,
           segment_prefix: str, headers: Mapping[str, str], segment_size: int = SEGMENT_SIZE,
           concurrency: int = CONCURRENCY, extra_hash: str = "") -> Uploaded:
    """Store ``chunks`` as SLO ``container/name``; ``headers`` go on the manifest object (metadata).

    Segments are ``<segment_prefix><8-digit index>`` in ``segment_container``. ``extra_hash``
    names a hashlib algorithm also computed over the stream (to compare with the source's own).
    """
    if segment_size < 1 << 20:
        raise ObjectStoreError(f"segment size {segment_size} is below Swift's 1 MiB minimum for SLO segments", status=0)
    started = time.monotonic()
    sha = hashlib.sha256()
    extra = hashlib.new(extra_hash) if extra_hash else None
    slots = threading.Semaphore(concurrency)
    entries: list[dict[str, object]] = []
    futures: list[concurrent.futures.Future[str]] = []
    size = 0

    def put_segment(index: int, data: bytearray) -> str:
        try:
            etag = hashlib.md5(data, usedforsecurity=False).hexdigest()
            swift.put(segment_container, f"{segment_prefix}{index:08d}", bytes(data), etag=etag)
            return etag
        finally:
            slots.release()

    with concurrent.futures.ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="slo") as pool:
        try:
            for index, segment in enumerate(_segments(chunks, segment_size, slots)):
                sha.update(segment)
                if extra is not None:
                    extra.update(segment)
                size += len(segment)
                entries.append({"path": f"/{segment_container}/{segment_prefix}{index:08d}", "size_bytes": len(segment)})
                futures.append(pool.submit(put_segment, index, segment))
                _raise_first_failure(futures)
        finally:
            concurrent.futures.wait(futures)  # no segment PUT outlives the call, even on failure
    etags = [future.result() for future in futures]
    for entry, etag in zip(entries, etags):
        entry["etag"] = etag
    if not entries:  # an empty disk is one empty segment: an SLO needs at least one
        etag = swift.put(segment_container, f"{segment_prefix}{0:08d}", b"")
        entries.append({"path": f"/{segment_container}/{segment_prefix}{0:08d}", "size_bytes": 0, "etag": etag})
    swift.put(container, name, json.dumps(entries).encode(), headers=headers, query="multipart-manifest=put")
    seconds = time.monotonic() - started
    LOG.info("stored %s/%s: %d bytes in %d segments, %.1f MB/s", container, name, size, len(entries),
             size / max(seconds, 1e-9) / 1e6)
    return Uploaded(size=size, sha256=sha.hexdigest(), segments=len(entries),
                    extra_digest=extra.hexdigest() if extra is not None else "", seconds=seconds)


def _segments(chunks: Iterable[bytes], segment_size: int, slots: threading.Semaphore) -> Iterator[bytearray]:
    """Full segments of the stream (the last may be short); a slot is taken before each is filled."""
    slots.acquire()
    buffer = bytearray()
    for chunk in chunks:
        view = memoryview(chunk)
        while view:
            take = min(segment_size - len(buffer), len(view))
            buffer += view[:take]
            view = view[take:]
            if len(buffer) == segment_size:
                yield buffer
                slots.acquire()
                buffer = bytearray()
    if buffer:
        yield buffer
    else:
        slots.release()


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
