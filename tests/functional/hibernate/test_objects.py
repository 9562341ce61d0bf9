"""Swift actions on the simulated cloud: a Glance image into an SLO and back, manifests, reverts."""

from __future__ import annotations

from typing import Any

import pytest

from opsflow.errors import ActionFailed, ObjectStoreError, VerificationFailed
from opsflow.hibernate import slo
from opsflow.hibernate.layout import Layout
from opsflow.hibernate.manifest import State
from opsflow.hibernate.swift import Swift
from opsflow.tasks import objects

from tests.unit.hibernate.test_manifest import SERVER as DESCRIPTION

from .conftest import MIB, SOURCE, act, sha256

pytestmark = pytest.mark.functional

SERVER = {**DESCRIPTION, "id": "00000000-0000-0000-0000-000000000000"}


def _store(image: Any, layout: dict[str, str], run_id: str = "run-1") -> tuple[objects.StoreImage, dict[str, Any]]:
    action = act(objects.StoreImage, run_id, "store")
    disk = action.execute(cloud=SOURCE, image=image.id, name="vm", server=SERVER["id"], layout=layout,
                          segment_size=MIB, concurrency=3)
    return action, disk


def test_image_streams_into_an_slo_whose_bytes_and_sha256_equal_the_image(
        image: tuple[Any, bytes], store_layout: dict[str, str], swift: Swift) -> None:
    """A 5.5 MiB image becomes an SLO of six 1 MiB segments with the image's bytes and SHA-256."""
    glance, data = image
    _action, disk = _store(glance, store_layout)
    lay = Layout(**store_layout)
    assert (disk["size"], disk["sha256"], disk["segments"]) == (len(data), sha256(data), 6)
    assert swift.head(lay.container, lay.disk("vm"))["x-static-large-object"] == "True"
    assert slo.hash_object(swift, lay.container, lay.disk("vm")) == (len(data), sha256(data))


@pytest.mark.parametrize("announced", [True, False])
def test_a_stream_of_any_chunking_becomes_the_same_slo(announced: bool, store_layout: dict[str, str],
                                                       swift: Swift) -> None:
    """Chunks that straddle segment ends, with the length announced (each PUT streams as the bytes come)
    or not (each PUT once its segment is full), store the exact bytes; a source that ends before the
    length it announced fails the upload instead of storing a short disk."""
    data = bytes(range(256)) * (10 * MIB // 256) + b"tail"
    lay = Layout(**store_layout)
    for container in (lay.container, lay.segment_container):
        swift.ensure_container(container, "")
    chunks = [data[i:i + 300_001] for i in range(0, len(data), 300_001)]
    stored = slo.upload(swift, iter(chunks), container=lay.container, name="vm/disk", segment_container=lay.segment_container,
                        segment_prefix="vm/disk/a/", headers={}, segment_size=MIB, concurrency=3,
                        length=len(data) if announced else None)
    assert (stored.size, stored.sha256, stored.segments) == (len(data), sha256(data), 11)
    assert slo.hash_object(swift, lay.container, "vm/disk") == (len(data), sha256(data))
    if announced:
        with pytest.raises(ObjectStoreError, match="ended after"):
            slo.upload(swift, iter(chunks), container=lay.container, name="vm/short", segment_container=lay.segment_container,
                       segment_prefix="vm/short/a/", headers={}, segment_size=MIB, concurrency=3, length=len(data) + 1)
        assert swift.head(lay.container, "vm/short") is None


def test_retry_adopts_its_own_copy_and_another_run_is_refused(
        image: tuple[Any, bytes], store_layout: dict[str, str], swift: Swift) -> None:
    """The same run and task adopt the finished copy; another run may not overwrite it."""
    glance, _data = image
    _action, first = _store(glance, store_layout)
    lay = Layout(**store_layout)
    segments = swift.names(lay.segment_container)
    _again, second = _store(glance, store_layout)
    assert second["sha256"] == first["sha256"]
    assert swift.names(lay.segment_container) == segments
    with pytest.raises(ActionFailed, match="already exists"):
        _store(glance, store_layout, run_id="run-2")


def test_containers_are_readable_by_the_owner_project_alone(
        demo: Any, image: tuple[Any, bytes], store_layout: dict[str, str], swift: Swift) -> None:
    """Both containers carry a read ACL naming only the owner's project, and no write ACL."""
    _store(image[0], store_layout)
    lay = Layout(**store_layout)
    for container in (lay.container, lay.segment_container):
        assert swift.container_acls(container) == (f"{demo.current_project_id}:*", "")


def test_manifest_verifies_then_disk_loads_back_into_glance(
        demo: Any, image: tuple[Any, bytes], store_layout: dict[str, str], swift: Swift) -> None:
    """Written, read back and verified, the copy loads into a new image with the same bytes."""
    glance, data = image
    _action, disk = _store(glance, store_layout)
    written = act(objects.WriteManifest).execute(cloud=SOURCE, name="vm", server=SERVER, disk=disk,
                                                 layout=store_layout)
    assert written["state"] == State.COPIED.value
    verified = act(objects.VerifyCopy).execute(cloud=SOURCE, name="vm", manifest=written,
                                               layout=store_layout)["manifest"]
    assert verified["state"] == State.VERIFIED.value
    read = act(objects.ReadManifest).execute(cloud=SOURCE, name="vm", layout=store_layout)
    assert read == verified
    loader = act(objects.LoadImage)
    image_id = loader.execute(cloud=SOURCE, manifest=read)["id"]
    try:
        assert demo.image.download_image(image_id).content == data
        assert loader.execute(cloud=SOURCE, manifest=read)["id"] == image_id
    finally:
        loader.revert(cloud=SOURCE)
    assert demo.image.find_image(image_id, ignore_missing=True) is None


def test_verify_refuses_a_copy_whose_checksum_differs(
        image: tuple[Any, bytes], store_layout: dict[str, str], swift: Swift) -> None:
    """A manifest claiming another SHA-256 than the stored bytes fails verification."""
    _action, disk = _store(image[0], store_layout)
    written = act(objects.WriteManifest).execute(cloud=SOURCE, name="vm", server=SERVER,
                                                 disk={**disk, "sha256": "0" * 64}, layout=store_layout)
    with pytest.raises(VerificationFailed, match="read back"):
        act(objects.VerifyCopy).execute(cloud=SOURCE, name="vm", manifest=written, layout=store_layout)


def test_revert_keeps_the_copy_of_a_server_that_is_gone(
        image: tuple[Any, bytes], store_layout: dict[str, str], swift: Swift) -> None:
    """With its server gone, a copy's revert keeps disk and segments: it is the server now."""
    action, _disk = _store(image[0], store_layout)
    lay = Layout(**store_layout)
    action.revert(cloud=SOURCE, name="vm", server=SERVER["id"], layout=store_layout)
    action.revert(cloud=SOURCE, name="vm", server=SERVER["id"], layout=store_layout)
    assert swift.head(lay.container, lay.disk("vm")) is not None
    assert len(swift.names(lay.segment_container)) == 6


def test_delete_copy_only_when_requested(
        image: tuple[Any, bytes], store_layout: dict[str, str], swift: Swift) -> None:
    """delete_copy does nothing unless requested, then removes disk, segments and manifest."""
    _action, disk = _store(image[0], store_layout)
    act(objects.WriteManifest).execute(cloud=SOURCE, name="vm", server=SERVER, disk=disk, layout=store_layout)
    deleter = act(objects.DeleteCopy)
    assert deleter.execute(cloud=SOURCE, name="vm", layout=store_layout) is False
    assert deleter.execute(cloud=SOURCE, name="vm", requested=True, layout=store_layout) is True
    lay = Layout(**store_layout)
    assert swift.names(lay.container) == [] and swift.names(lay.segment_container) == []
