"""Swift actions (python-swiftclient): disk copies and manifests of hibernated servers.

Every action acts in the owner's project (``project``; the cloud's own when empty) and reads its
container names from ``layout`` (``{container, segment_container, prefix}``, see
:mod:`opsflow.hibernate.layout`). Objects an action makes carry ``X-Object-Meta-Opsflow-Tag`` =
the run and task (:attr:`RunContext.tag`): a re-run adopts a complete copy it made instead of
uploading again, and refuses to overwrite a copy some other run made.

Reverts never lose data. A copy's revert removes it only while the server it was taken from
still exists (then the server is the data, and the copy would be an orphan); once the server is
gone the copy *is* the server and stays, restorable. Image reverts remove the temporary Glance
images this run made, nothing else.

The steps that move a disk -- the snapshot (the hypervisor reads the whole disk into Glance), the
copy into Swift and the load back into Glance -- hold the run's ``limits`` (:data:`LIMITS`) through
:mod:`opsflow.tasks.slots`, as forklift's transfers do: in one process by its semaphores, under
conductors by ZooKeeper's, so a batch of child runs spread over every conductor still has at most
``per_cloud`` disks moving in one cloud and ``per_host`` on one hypervisor. A restore does not know
its host before the boot, so its load holds the cloud's bound only.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import logging
from collections.abc import Iterator, Mapping
from typing import Any

from opsflow.errors import ActionFailed, ObjectStoreError, VerificationFailed
from opsflow import clouds
from opsflow.clouds import CloudAction
from opsflow.hibernate import hostdisk, listing, slo
from opsflow.hibernate.layout import Layout
from opsflow.hibernate.manifest import DiskCopy, Manifest, Restore, State
from opsflow.hibernate.swift import Swift
from opsflow.tasks import image as image_actions, slots

__all__ = ["LIMITS", "DeleteCopy", "LoadImage", "ReadManifest", "SetState", "SnapshotServer", "StoreImage", "VerifyCopy",
           "VerifyRestoredDisk", "WriteManifest", "bounds"]

LOG = logging.getLogger(__name__)

#: Object metadata naming the run and task that wrote an object.
TAG_META = "X-Object-Meta-Opsflow-Tag"
#: Object metadata holding the disk's SHA-256.
SHA_META = "X-Object-Meta-Sha256"
#: Bytes read from Glance per chunk.
CHUNK = 1 << 20
#: The keys of a hibernation's ``limits``: disks moving at once in one cloud, and on one hypervisor.
LIMITS = ("per_cloud", "per_host")


def bounds(limits: Mapping[str, Any] | None, cloud: str, host: str = "") -> list[slots.Bound]:
    """The bounds a disk-moving step holds under ``limits`` (an unknown host: the cloud's only).

    Hibernations and restores in one cloud share its bound: both move disks through its Glance and Swift.
    """
    wanted = slots.limits_of(dict(limits or {}), LIMITS)
    held = []
    if "per_cloud" in wanted:
        held.append(slots.Bound(f"hibernation/{cloud}", wanted["per_cloud"]))
    if "per_host" in wanted and host:
        held.append(slots.Bound(f"hibernation/{cloud}/{host}", wanted["per_host"]))
    return held


def _layout(layout: Mapping[str, str] | None) -> Layout:
    return Layout(**dict(layout or {}))


def _owner(conn: Any) -> str:
    return str(conn.current_project_id)


def _read_acl(project: str) -> str:
    # Swift's keystoneauth: operators of the account (the owner project's admin/member roles, and
    # reseller admins) read anyway; the ACL names the owner's project alone, so any role of it may
    # read, and whatever ACL the container had before (a public ``.r:*``) is gone.
    return f"{project}:*"


def _gone(conn: Any, server_id: str) -> bool:
    """True when the server no longer exists (deleted, or soft-deleted and waiting to be reclaimed)."""
    if not server_id:
        return False
    found = clouds.find_one(conn.compute.get_server, server_id)
    return found is None or found.status in ("DELETED", "SOFT_DELETED")


def _rewrite(swift: Swift, lay: Layout, manifest: Manifest) -> Manifest:
    """Store a changed manifest, keeping the tag of the run that first wrote it (its revert's key)."""
    headers = swift.head(lay.container, lay.manifest(manifest.name)) or {}
    keep = {TAG_META: headers[TAG_META.lower()]} if TAG_META.lower() in headers else {}
    swift.put(lay.container, lay.manifest(manifest.name), manifest.to_json(),
              headers={**keep, "Content-Type": "application/json"})
    return manifest


class _SwiftAction(CloudAction):
    """Connection and layout handling shared by the Swift actions (cloud errors mapped by CloudAction)."""

    def _open(self, cloud: str, project: str) -> tuple[Any, Swift]:
        conn = clouds.project_connection(cloud, project)
        return conn, Swift(conn)

    def _ours(self, headers: Mapping[str, str] | None) -> bool:
        return headers is not None and headers.get(TAG_META.lower()) == self.context.tag

    def _manifest(self, swift: Swift, lay: Layout, name: str) -> Manifest:
        return listing.read(swift, lay, name)


class SnapshotServer(image_actions.SnapshotServer):
    """``image.snapshot_server`` holding the hibernation ``limits`` of the cloud and of the server's host
    while the hypervisor writes the snapshot (the step that reads the whole disk on the host)."""

    def execute(self, cloud: str, server: str, host: str = "",
                limits: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """As ``image.snapshot_server``, within the bounds."""
        with slots.hold(bounds(limits, cloud, host), self.context.tag):
            return super().execute(cloud, server)


class StoreImage(_SwiftAction):
    """Stream a Glance image into Swift as a Static Large Object (parallel segments, SHA-256)."""

    doing = "copying the disk into Swift"

    def execute(self, cloud: str, image: str, name: str, server: str = "", project: str = "",
                layout: Mapping[str, str] | None = None, segment_size: int = slo.SEGMENT_SIZE,
                concurrency: int = slo.CONCURRENCY, host: str = "",
                limits: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Copy image ``image`` to the disk object of ``name``; returns the :class:`DiskCopy` as a dict.

        The upload holds the ``limits`` of the cloud and of ``host``, the server's hypervisor."""
        lay = _layout(layout)
        conn, swift = self._open(cloud, project)
        disk_name = lay.disk(name)
        existing = swift.head(lay.container, disk_name)
        if existing is not None:
            if self._ours(existing) and existing.get(SHA_META.lower()):
                LOG.info("%s: adopting %s/%s from an earlier try", self.name, lay.container, disk_name)
                return self._described(conn, lay, name, existing, image)
            raise ActionFailed(f"a copy named {name!r} already exists in {lay.container} (written by "
                               f"{existing.get(TAG_META.lower(), 'someone else')}); restore it, delete it "
                               f"(opsflow hibernated delete {name}) or hibernate under another name")
        owner = _owner(conn)
        for container in (lay.container, lay.segment_container):
            swift.ensure_container(container, _read_acl(owner))
        glance = conn.image.get_image(image)
        with slots.hold(bounds(limits, cloud, host), self.context.tag):
            response = conn.image.download_image(glance, stream=True)
            try:
                algo = glance.hash_algo if glance.hash_algo in hashlib.algorithms_available else ""
                stored = slo.upload(swift, response.iter_content(CHUNK), container=lay.container, name=disk_name,
                                    segment_container=lay.segment_container,
                                    segment_prefix=lay.segment_prefix(name, self._attempt_key()),
                                    headers={TAG_META: self.context.tag, "X-Object-Meta-Image": glance.id},
                                    segment_size=segment_size, concurrency=concurrency, extra_hash=algo,
                                    length=glance.size)
            finally:
                response.close()
        if glance.size is not None and stored.size != glance.size:
            raise VerificationFailed(f"image {glance.id} is {glance.size} bytes but {stored.size} arrived")
        if algo and glance.hash_value and stored.extra_digest != glance.hash_value:
            raise VerificationFailed(f"image {glance.id}: {algo} of the bytes read differs from Glance's")
        swift.post(lay.container, disk_name, {TAG_META: self.context.tag, "X-Object-Meta-Image": glance.id,
                                              SHA_META: stored.sha256})
        return dataclasses.asdict(DiskCopy(
            container=lay.container, object=disk_name, segment_container=lay.segment_container,
            size=stored.size, sha256=stored.sha256, segment_size=segment_size, segments=stored.segments,
            disk_format=glance.disk_format or "raw", container_format=glance.container_format or "bare"))

    def _attempt_key(self) -> str:
        return self.context.tag.replace(":", "-")

    def _described(self, conn: Any, lay: Layout, name: str, headers: Mapping[str, str], image: str) -> dict[str, Any]:
        glance = conn.image.get_image(image)
        size = int(headers.get("content-length", "0"))
        return dataclasses.asdict(DiskCopy(
            container=lay.container, object=lay.disk(name), segment_container=lay.segment_container,
            size=size, sha256=headers[SHA_META.lower()], segment_size=0, segments=0,
            disk_format=glance.disk_format or "raw", container_format=glance.container_format or "bare"))

    def revert(self, cloud: str, name: str, server: str = "", project: str = "",
               layout: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        """Remove this run's copy (and its segments) while ``server`` still exists; keep it once it is gone."""
        lay = _layout(layout)
        conn, swift = self._open(cloud, project)
        if _gone(conn, server):
            LOG.warning("%s: server %s is gone; keeping its copy %s/%s", self.name, server, lay.container,
                        lay.disk(name))
            return
        if self._ours(swift.head(lay.container, lay.disk(name))):
            swift.delete(lay.container, lay.disk(name))  # the manifest object only: segments below
        for segment in swift.names(lay.segment_container, lay.segment_prefix(name, self._attempt_key())):
            swift.delete(lay.segment_container, segment)


class WriteManifest(_SwiftAction):
    """Write the manifest of a hibernated server (state ``copied``: not yet verified)."""

    doing = "writing the manifest"

    def execute(self, cloud: str, name: str, server: Mapping[str, Any], disk: Mapping[str, Any],
                project: str = "", layout: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Store the manifest; returns it as a dict."""
        lay = _layout(layout)
        conn, swift = self._open(cloud, project)
        existing = swift.head(lay.container, lay.manifest(name))
        if existing is not None and not self._ours(existing):
            raise ActionFailed(f"a manifest named {name!r} already exists in {lay.container}; "
                               f"restore or delete that copy first, or hibernate under another name")
        created = (self._manifest(swift, lay, name).created if existing is not None
                   else datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
        manifest = Manifest.from_dict({"schema": 1, "name": name, "server": dict(server), "disk": dict(disk),
                                       "region": conn.config.region_name, "state": State.COPIED.value,
                                       "created": created})
        swift.put(lay.container, lay.manifest(name), manifest.to_json(),
                  headers={TAG_META: self.context.tag, "Content-Type": "application/json"})
        return manifest.to_dict()

    def revert(self, cloud: str, name: str, server: Mapping[str, Any], project: str = "",
               layout: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        """Remove this run's manifest while the server still exists; keep it once the server is gone."""
        lay = _layout(layout)
        conn, swift = self._open(cloud, project)
        if _gone(conn, str(server.get("id", ""))):
            LOG.warning("%s: server %s is gone; keeping the manifest of %s", self.name, server.get("id"), name)
            return
        if self._ours(swift.head(lay.container, lay.manifest(name))):
            swift.delete(lay.container, lay.manifest(name))


class VerifyCopy(_SwiftAction):
    """Read the manifest and the whole disk back from Swift and check both; then mark it ``verified``."""

    doing = "verifying the Swift copy"

    def execute(self, cloud: str, name: str, manifest: Mapping[str, Any], project: str = "",
                layout: Mapping[str, str] | None = None) -> dict[str, Any]:
        """``{"verified": true, "size", "sha256", "manifest"}``; VerificationFailed when anything read back differs."""
        lay = _layout(layout)
        _conn, swift = self._open(cloud, project)
        expected = Manifest.from_dict(dict(manifest))
        stored = self._manifest(swift, lay, name)
        if dataclasses.replace(stored, state=expected.state) != expected:
            raise VerificationFailed(f"the manifest of {name!r} read back differs from the one written")
        size, sha = slo.hash_object(swift, expected.disk.container, expected.disk.object)
        if (size, sha) != (expected.disk.size, expected.disk.sha256):
            raise VerificationFailed(f"the disk of {name!r} read back is {size} bytes, SHA-256 {sha}; "
                                     f"{expected.disk.size} bytes, {expected.disk.sha256} were written")
        verified = _rewrite(swift, lay, stored.with_state(State.VERIFIED))
        return {"verified": True, "size": size, "sha256": sha, "manifest": verified.to_dict()}

    def revert(self, **kwargs: Any) -> None:
        """Reading changed nothing; the manifest's own revert decides whether it stays."""


class ReadManifest(_SwiftAction):
    """Read a hibernated server's manifest (only the owner's project and admins may)."""

    doing = "reading the manifest"

    def execute(self, cloud: str, name: str, project: str = "", layout: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The manifest as a dict; fails when it is missing, unreadable or not restorable."""
        lay = _layout(layout)
        _conn, swift = self._open(cloud, project)
        try:
            manifest = self._manifest(swift, lay, name)
        except ObjectStoreError as exc:
            raise ActionFailed(f"cannot read the manifest of {name!r} in {lay.container}: {exc}") from exc
        if manifest.state is State.COPIED:
            raise ActionFailed(f"{name!r} was never verified (state copied): its hibernation did not finish; "
                               f"the server it came from should still exist")
        return manifest.to_dict()

    def revert(self, **kwargs: Any) -> None:
        """Reading changed nothing."""


class SetState(_SwiftAction):
    """Move a manifest to ``state`` (``hibernated``, ``restored``), recording a restore when given."""

    doing = "updating the manifest"

    def execute(self, cloud: str, name: str, state: str, project: str = "", layout: Mapping[str, str] | None = None,
                server_id: str = "", notes: list[str] | None = None) -> dict[str, Any]:
        """Returns the manifest as stored; ``server_id`` records a restore (in the cloud's region, with
        the user nova gave the server and a note when that is not the owner), once per server even when
        retried."""
        lay = _layout(layout)
        conn, swift = self._open(cloud, project)
        manifest = self._manifest(swift, lay, name)
        restore = None
        if server_id and server_id not in {r.server_id for r in manifest.restores}:
            user = str(conn.compute.get_server(server_id).user_id or "")
            restore = Restore(server_id=server_id, region=conn.config.region_name,
                              notes=list(notes or []) + _restorer_note(manifest, user), user_id=user,
                              at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
        return _rewrite(swift, lay, manifest.with_state(State(state), restore)).to_dict()

    def revert(self, cloud: str, name: str, project: str = "", layout: Mapping[str, str] | None = None,
               server_id: str = "", result: Any = None, **kwargs: Any) -> None:
        """Drop the restore this run recorded; the copy is restorable again (``hibernated``).

        Hibernate's own ``hibernated`` mark is made after the server is deleted and declared
        irreversible in the flow: there is no earlier state to go back to.
        """
        lay = _layout(layout)
        _conn, swift = self._open(cloud, project)
        if swift.head(lay.container, lay.manifest(name)) is None:
            return
        manifest = self._manifest(swift, lay, name)
        restores = [r for r in manifest.restores if r.server_id != server_id]
        if len(restores) == len(manifest.restores):
            return  # this run recorded nothing
        state = State.RESTORED if restores else State.HIBERNATED
        _rewrite(swift, lay, dataclasses.replace(manifest, state=state, restores=restores))


def _restorer_note(manifest: Manifest, user: str) -> list[str]:
    """A note when the restored server's user is not the owner it had (an admin restored it)."""
    owner = str(manifest.server.get("user_id") or "")
    if not owner or user == owner:
        return []
    return [f"nova records user {user} (who restored it) as the server's user; it was {owner}'s "
            f"(kept in the manifest's server.user_id)"]


class LoadImage(_SwiftAction):
    """Stream a hibernated disk from Swift into a new private Glance image, checking its SHA-256."""

    doing = "loading the disk into Glance"

    def execute(self, cloud: str, manifest: Mapping[str, Any], project: str = "",
                limits: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Create (or adopt) the image, holding the cloud's bound of ``limits``; returns ``{"id", "name", "size"}``."""
        copy = Manifest.from_dict(dict(manifest))
        conn, swift = self._open(cloud, project)
        for image in self._images(conn):
            if image.status == "active" and image.size == copy.disk.size:
                LOG.info("%s: adopting image %s from an earlier try", self.name, image.id)
                return {"id": image.id, "name": image.name, "size": image.size}
            conn.image.delete_image(image, ignore_missing=True)  # a half-made one: start again
        image = conn.image.create_image(name=f"opsflow-restore-{copy.name}", disk_format=copy.disk.disk_format,
                                        container_format=copy.disk.container_format, visibility="private",
                                        tags=[self.context.tag])
        sha = hashlib.sha256()
        with slots.hold(bounds(limits, cloud), self.context.tag):
            _headers, chunks = swift.stream(copy.disk.container, copy.disk.object)
            conn.image.put(f"images/{image.id}/file", data=_counting(chunks, sha),
                           headers={"Content-Type": "application/octet-stream"})
        if sha.hexdigest() != copy.disk.sha256:
            conn.image.delete_image(image, ignore_missing=True)
            raise VerificationFailed(f"the disk of {copy.name!r} read from Swift has SHA-256 {sha.hexdigest()}, "
                                     f"not {copy.disk.sha256}: the copy is damaged; it was left as it is")
        loaded = conn.image.get_image(image.id)
        if loaded.status != "active" or loaded.size != copy.disk.size:
            raise VerificationFailed(f"image {image.id} is {loaded.status} with {loaded.size} bytes after the "
                                     f"upload; expected active with {copy.disk.size}")
        return {"id": image.id, "name": loaded.name, "size": loaded.size}

    def _images(self, conn: Any) -> list[Any]:
        return list(conn.image.images(tag=self.context.tag, owner=conn.current_project_id))

    def revert(self, cloud: str, project: str = "", **kwargs: Any) -> None:
        """Delete the images this task made (the Swift copy is not touched)."""
        conn = clouds.project_connection(cloud, project)
        for image in self._images(conn):
            conn.image.delete_image(image, ignore_missing=True)


def _counting(chunks: Iterator[bytes], sha: Any) -> Iterator[bytes]:
    for chunk in chunks:
        sha.update(chunk)
        yield chunk


class DeleteCopy(_SwiftAction):
    """Delete a hibernated server's copy (disk, segments, manifest) — only when ``requested``."""

    doing = "deleting the Swift copy"

    def execute(self, cloud: str, name: str, requested: bool = False, project: str = "",
                layout: Mapping[str, str] | None = None) -> bool:
        """True when a copy was deleted; with ``requested`` false, does nothing."""
        if not requested:
            return False
        _conn, swift = self._open(cloud, project)
        return listing.delete(swift, _layout(layout), name)

    def revert(self, **kwargs: Any) -> None:
        """A deleted copy cannot come back; the flow puts this step last so nothing fails after it."""


class VerifyRestoredDisk(_SwiftAction):
    """Check on its hypervisor that a restored server's disk starts with exactly the hibernated bytes."""

    doing = "checking the restored disk on its host"

    def execute(self, cloud: str, server: str, manifest: Mapping[str, Any], access: str = "") -> dict[str, Any]:
        """``{"server", "sha256", "bytes"}``; VerificationFailed when the disk differs from the copy."""
        copy = Manifest.from_dict(dict(manifest))
        sha = hostdisk.prefix_sha256(cloud, server, copy.disk.size, access)
        if sha != copy.disk.sha256:
            raise VerificationFailed(f"the disk of restored server {server} hashes to {sha} over its first "
                                     f"{copy.disk.size} bytes, the copy of {copy.name!r} to {copy.disk.sha256}")
        return {"server": server, "sha256": sha, "bytes": copy.disk.size}

    def revert(self, **kwargs: Any) -> None:
        """Checking changed nothing."""
