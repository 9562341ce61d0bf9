"""The simulated cloud's object store: one Swift, in the catalog of both regions, behind Keystone."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.functional

#: 12 MiB in 5 MiB segments: three segments, the last one short.
SIZE = 12 << 20
SEGMENT = 5 << 20


# openstacksdk 4.22 leaves the segment files it opens for the upload unclosed (its own bug)
@pytest.mark.filterwarnings("ignore:unclosed file:ResourceWarning")
def test_segmented_object_round_trip(demo: Any, tmp_path: Path) -> None:
    """An object uploaded as an SLO in three segments downloads whole with the same checksum."""
    source = tmp_path / "blob"
    source.write_bytes(os.urandom(SIZE))
    container = f"test-{uuid.uuid4().hex[:8]}"
    demo.object_store.create_container(container)
    try:
        demo.create_object(container, "blob", filename=str(source), segment_size=SEGMENT, use_slo=True)
        head = demo.object_store.get_object_metadata("blob", container=container)
        assert head.is_static_large_object
        segments = [o.name for o in demo.object_store.objects(container) if o.name != "blob"]
        assert len(segments) == 3
        data = demo.object_store.download_object("blob", container=container)
        assert len(data) == SIZE
        assert hashlib.sha256(data).hexdigest() == hashlib.sha256(source.read_bytes()).hexdigest()
    finally:
        # the manifest first, then its segments (openstacksdk puts them beside it, as blob/000000...)
        for obj in sorted(demo.object_store.objects(container), key=lambda o: o.name):
            demo.object_store.delete_object(obj, container=container, ignore_missing=True)
        demo.object_store.delete_container(container, ignore_missing=True)
