"""Glance actions: snapshot a server, stream an image from one cloud's Glance to another's, and make a
server's base image exist at the destination.

Image bytes are streamed in chunks from the source's ``GET /v2/images/ID/file`` straight into the
destination's ``PUT /v2/images/ID/file`` (chunked transfer encoding), hashing on the way, so a disk
of any size passes through a fixed buffer, paced by the byte rates of the transfer it is part of
(:func:`opsflow.tasks.slots.byte_rates`). Glance hashes what it stored (``os_hash_value``); the copy
is verified when both Glances agree and our own SHA-256 of the stream is returned for the record.
Images this module makes are named after the run's tag, which is how a retry finds them.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any

from opsflow import clouds
from opsflow.clouds import CloudAction
from opsflow.errors import ActionFailed
from opsflow.forklift import inventory
from opsflow.tasks import polling, slots

__all__ = ["CopyImage", "DeleteImage", "EnsureImage", "SnapshotServer", "stream_image"]

LOG = logging.getLogger(__name__)

#: Bytes per chunk of a streamed image: the most a copy holds in memory at once.
CHUNK = 1 << 20
#: Image property naming the task that made an image.
TAG_PROPERTY = "opsflow_tag"
#: Image properties Glance owns; never copied.
_GLANCE_OWNED = frozenset({"id", "status", "checksum", "size", "virtual_size", "owner", "created_at", "updated_at",
                           "file", "schema", "self", "locations", "direct_url", "os_hash_algo", "os_hash_value",
                           "stores", "tags", "protected", "visibility", "os_hidden", "name", "disk_format",
                           "container_format", "min_disk", "min_ram", TAG_PROPERTY})


def _named(conn: Any, name: str, project: str = "") -> list[Any]:
    query: dict[str, Any] = {"name": name}
    if project:
        query["owner"] = project
    return list(conn.image.images(**query))


def _delete_named(conn: Any, name: str, project: str = "") -> None:
    for image in _named(conn, name, project):
        conn.image.delete_image(image, ignore_missing=True)


def _raw(conn: Any, image_id: str) -> dict[str, Any]:
    body: dict[str, Any] = conn.image.get(f"/images/{image_id}").json()
    return body


def stream_image(source: Any, image_id: str, destination: Any, name: str, *, visibility: str = "private",
                 extra: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Copy image ``image_id`` from the ``source`` connection's Glance into a new image ``name`` in
    ``destination``'s, chunk by chunk; returns ``{"id", "name", "size", "sha256", "os_hash_value",
    "seconds"}``. Fails when the two Glances' hashes of the bytes differ."""
    began = time.monotonic()
    meta = _raw(source, image_id)
    if meta.get("status") != "active":
        raise ActionFailed(f"image {image_id} is {meta.get('status')}, not active; it cannot be copied yet")
    body: dict[str, Any] = {key: value for key, value in meta.items()
                            if key not in _GLANCE_OWNED and isinstance(value, str)}
    body.update({"name": name, "disk_format": meta.get("disk_format") or "raw", "visibility": visibility,
                 "container_format": meta.get("container_format") or "bare",
                 "min_disk": meta.get("min_disk") or 0, "min_ram": meta.get("min_ram") or 0, **(extra or {})})
    created = destination.image.post("/images", json=body).json()
    digest = hashlib.sha256()
    size = 0
    response = source.image.get(f"/images/{image_id}/file", stream=True)
    rates = slots.byte_rates()

    def chunks() -> Iterator[bytes]:
        nonlocal size
        for chunk in response.iter_content(CHUNK):
            slots.pace(rates, len(chunk))
            digest.update(chunk)
            size += len(chunk)
            yield chunk

    try:
        destination.image.put(f"/images/{created['id']}/file", data=chunks(),
                              headers={"Content-Type": "application/octet-stream"})
    finally:
        response.close()
    copied = polling.wait_image(destination, created["id"])
    if meta.get("os_hash_value") and copied.hash_value != meta["os_hash_value"]:
        raise ActionFailed(f"image {name} at the destination hashes to {copied.hash_value}, the source's "
                           f"{image_id} to {meta['os_hash_value']}: the copy is corrupt")
    LOG.info("streamed image %s (%d bytes) as %s in %.1f s", image_id, size, created["id"], time.monotonic() - began)
    return {"id": created["id"], "name": name, "size": size, "sha256": digest.hexdigest(),
            "os_hash_value": copied.hash_value, "seconds": time.monotonic() - began}


class SnapshotServer(CloudAction):
    """Snapshot a server's disk into an image of its cloud's Glance (named after the run's tag)."""

    doing = "snapshotting the server"

    def execute(self, cloud: str, server: str) -> dict[str, Any]:
        """``{"id", "name", "size"}`` of the active snapshot; an earlier try's snapshot is adopted."""
        conn = clouds.connect(cloud)
        name = clouds.short_tag(self.context.tag)
        found = [image for image in _named(conn, name) if image.status in ("queued", "saving", "active")]
        if found:
            image_id, first_look = found[0].id, 0.0
        else:
            image_id = conn.compute.create_server_image(server, name, metadata={TAG_PROPERTY: self.context.tag})
            image_id, first_look = getattr(image_id, "id", image_id), polling.INTERVAL
        image = polling.wait_image(conn, str(image_id), first_look=first_look)
        return {"id": image.id, "name": name, "size": image.size}

    def revert(self, cloud: str, server: str, **kwargs: Any) -> None:
        """Delete the snapshot(s) this task made."""
        _delete_named(clouds.connect(cloud), clouds.short_tag(self.context.tag))


class CopyImage(CloudAction):
    """Stream an image from the source cloud's Glance to the destination's, into the given project."""

    doing = "copying the image"

    def execute(self, source_cloud: str, image: str, destination_cloud: str, project: str = "") -> dict[str, Any]:
        """See :func:`stream_image`; an earlier try's complete copy is adopted, a partial one replaced."""
        destination = clouds.project_connection(destination_cloud, project)
        name = clouds.short_tag(self.context.tag)
        source = clouds.connect(source_cloud)
        want = _raw(source, image).get("os_hash_value")
        for found in _named(destination, name):
            if found.status == "active" and found.hash_value == want:
                return {"id": found.id, "name": name, "size": found.size, "sha256": "",
                        "os_hash_value": found.hash_value, "seconds": 0.0}
            destination.image.delete_image(found, ignore_missing=True)
        return stream_image(source, image, destination, name, extra={TAG_PROPERTY: self.context.tag})

    def revert(self, destination_cloud: str, project: str = "", **kwargs: Any) -> None:
        """Delete the copies this task made."""
        _delete_named(clouds.project_connection(destination_cloud, project), clouds.short_tag(self.context.tag))


class EnsureImage(CloudAction):
    """Find the server's base image at the destination by (mapped) name, or copy it there."""

    doing = "preparing the image"

    def execute(self, source_cloud: str, image: Mapping[str, Any] | None, destination_cloud: str,
                project: str = "", mappings: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """``{"id", "name", "created"}``, or None for a server booted from a volume."""
        if not image:
            return None
        destination = clouds.project_connection(destination_cloud, project)
        name = inventory.mapped(mappings, "images", str(image["name"] or image["id"]))
        found = next((i for i in _named(destination, name) if i.status == "active"), None)
        created = not self.first_look(name, found is not None)
        if found is not None:
            return {"id": found.id, "name": name, "created": created}
        if created:
            _delete_named(destination, name, project)  # a partial copy of an earlier try
        copy = stream_image(clouds.connect(source_cloud), str(image["id"]), destination, name,
                            extra={TAG_PROPERTY: self.context.tag})
        return {"id": copy["id"], "name": name, "created": created}

    def revert(self, destination_cloud: str, image: Mapping[str, Any] | None, project: str = "",
               mappings: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        """Delete the image only if this task copied it."""
        if not image:
            return
        name = inventory.mapped(mappings, "images", str(image["name"] or image["id"]))
        if self.first_look(name, True):
            return
        destination = clouds.project_connection(destination_cloud, project)
        for found in _named(destination, name):
            if found.properties.get(TAG_PROPERTY) == self.context.tag:
                destination.image.delete_image(found, ignore_missing=True)


class DeleteImage(CloudAction):
    """Delete an image (a migration's snapshot once it is no longer needed)."""

    doing = "deleting the image"

    def execute(self, cloud: str, image: str) -> None:
        """Delete it; an image already gone, or none named (``""``), is fine."""
        if image:
            clouds.connect(cloud).image.delete_image(image, ignore_missing=True)

    def revert(self, **kwargs: Any) -> None:
        """A deleted image is not brought back: its copy lives on at the destination."""
