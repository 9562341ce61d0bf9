"""Fixtures of the hibernation tests: actions run by hand with a run context, images with random bytes."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from typing import Any

import openstack
import pytest

from opsflow.devcloud import clouds
from opsflow.devcloud.layout import Layout
from opsflow.hibernate.layout import Layout as StoreLayout
from opsflow.hibernate.swift import Swift
from opsflow.tasks.base import Action, RunContext

SOURCE, SOURCE_ADMIN = clouds.cloud_names("source")
DESTINATION, DESTINATION_ADMIN = clouds.cloud_names("destination")
MIB = 1 << 20


def act(cls: type[Action], run_id: str = "", path: str = "step") -> Action:
    """An action instance with a run context, as the engine would hand it over."""
    action = cls(name=path)
    action.context = RunContext(run_id=run_id or uuid.uuid4().hex, task_path=path)
    return action


@pytest.fixture(scope="module")
def demo(devcloud: Layout) -> Iterator[Any]:
    """The demo user in the source region."""
    conn = openstack.connect(cloud=SOURCE)
    yield conn
    conn.close()


@pytest.fixture()
def store_layout() -> dict[str, str]:
    """A container pair of this test's own."""
    return {"container": f"hib-test-{uuid.uuid4().hex[:8]}"}


@pytest.fixture()
def swift(demo: Any, store_layout: dict[str, str]) -> Iterator[Swift]:
    """The demo project's Swift; the test's containers are emptied and removed afterwards."""
    store = Swift(demo)
    yield store
    lay = StoreLayout(**store_layout)
    for container in (lay.container, lay.segment_container):
        for name in store.names(container):
            store.delete(container, name)
        try:
            store.client().delete_container(container)
        except Exception:  # never made
            pass


@pytest.fixture()
def image(demo: Any) -> Iterator[tuple[Any, bytes]]:
    """A private raw image of 5.5 MiB of random bytes, and those bytes; deleted afterwards."""
    data = os.urandom(5 * MIB + MIB // 2)
    made = demo.image.create_image(name=f"hib-test-{uuid.uuid4().hex[:8]}", disk_format="raw",
                                   container_format="bare", visibility="private")
    demo.image.put(f"images/{made.id}/file", data=data, headers={"Content-Type": "application/octet-stream"})
    yield demo.image.get_image(made.id), data
    demo.image.delete_image(made.id, ignore_missing=True)


def sha256(data: bytes) -> str:
    """Hex SHA-256."""
    return hashlib.sha256(data).hexdigest()
