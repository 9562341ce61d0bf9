"""What ``opsflow hibernated list|show|delete`` read from Swift: the manifests, not any local state.

The copies are the truth: a listing built from local run records would miss copies made on
another machine and show copies someone deleted.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from opsflow.errors import InvalidInput, ObjectStoreError
from opsflow.hibernate import manifest as mf
from opsflow.hibernate.layout import Layout
from opsflow.hibernate.swift import Swift

__all__ = ["Row", "delete", "manifests", "show"]

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Row:
    """One hibernated server as listed."""

    #: Name it is filed under.
    name: str
    #: Manifest state.
    state: str
    #: Server id it had.
    server: str
    #: Flavor name.
    flavor: str
    #: Disk bytes.
    size: int
    #: When hibernated.
    created: str
    #: Region it ran in.
    region: str
    #: Number of restores so far.
    restores: int

    #: Column names, in order.
    COLUMNS = ("name", "state", "server", "flavor", "size", "created", "region", "restores")

    def values(self) -> list[Any]:
        """Cells in :attr:`COLUMNS` order."""
        return [getattr(self, column) for column in self.COLUMNS]


def manifests(swift: Swift, layout: Layout) -> list[Row]:
    """Every manifest in the layout's container (one that cannot be read is logged and skipped)."""
    rows = []
    for obj in swift.names(layout.container, layout.prefix):
        name = layout.name_of_manifest(obj)
        if name is None:
            continue
        try:
            found = read(swift, layout, name)
        except (InvalidInput, ObjectStoreError) as exc:
            LOG.warning("skipping %s/%s: %s", layout.container, obj, exc)
            continue
        rows.append(Row(name=found.name, state=found.state.value, server=str(found.server["id"]),
                        flavor=str(found.server["flavor"]["name"]), size=found.disk.size, created=found.created,
                        region=found.region, restores=len(found.restores)))
    return rows


def read(swift: Swift, layout: Layout, name: str) -> mf.Manifest:
    """The manifest of ``name``; ObjectStoreError (status 404) when there is none."""
    return mf.Manifest.from_json(swift.get(layout.container, layout.manifest(name), limit=mf.MAX_BYTES))


def show(swift: Swift, layout: Layout, name: str) -> dict[str, Any]:
    """The whole manifest of ``name`` as data."""
    return read(swift, layout, name).to_dict()


def delete(swift: Swift, layout: Layout, name: str) -> bool:
    """Delete the copy of ``name`` (disk, segments, manifest); False when there was none."""
    disk = swift.delete(layout.container, layout.disk(name), query="multipart-manifest=delete")
    for segment in swift.names(layout.segment_container, layout.disk(name) + "/"):
        swift.delete(layout.segment_container, segment)
    return swift.delete(layout.container, layout.manifest(name)) or disk
