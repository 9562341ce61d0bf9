"""A failure injected before or after each step of hibernate and restore leaves a recoverable state
and no orphans: before the server is deleted everything is as it was; after, the verified copy stays
and restores; a failed restore leaves no server or image and the copy untouched.

CI runs one point on each side of the server's deletion in each flow (the whole matrix takes over ten
minutes); ``OPSFLOW_HIBERNATE_FULL_MATRIX=1`` runs before and after every step of both flows.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opsflow.devcloud.layout import Layout
from opsflow.engines.records import RunState
from opsflow.hibernate import listing, slo
from opsflow.hibernate.layout import Layout as StoreLayout
from opsflow.hibernate.manifest import State
from opsflow.hibernate.swift import Swift

from .conftest import SOURCE_ADMIN, boot_full, run_flow

pytestmark = [pytest.mark.functional, pytest.mark.slow]

FULL = os.environ.get("OPSFLOW_HIBERNATE_FULL_MATRIX") == "1"

HIBERNATE_STEPS = ["read", "stop", "snapshot", "store", "manifest", "verify", "delete_server", "mark", "cleanup"]
RESTORE_STEPS = ["read", "image", "flavor", "keypair", "security_groups", "networks", "addresses", "server_group",
                 "boot", "wait", "check", "disk", "unmark", "drop_image", "mark", "delete_copy"]
#: Steps after which the server no longer exists (the copy is the server).
AFTER_DELETE = {("delete_server", "after"), ("mark", "before"), ("mark", "after"), ("cleanup", "before"),
                ("cleanup", "after")}


def _points(steps: list[str], ci: set[tuple[str, str]]) -> list[tuple[str, str]]:
    every = [(step, when) for step in steps for when in ("before", "after")]
    return every if FULL else [p for p in every if p in ci]


HIBERNATE_POINTS = _points(HIBERNATE_STEPS, {("verify", "after"), ("delete_server", "after")})
RESTORE_POINTS = _points(RESTORE_STEPS, {("boot", "after"), ("mark", "after")})


@dataclasses.dataclass
class Subject:
    """The server the hibernate cases work on (a restore replaces it with a new id)."""

    id: str
    name: str
    layout: dict[str, str]
    state: Path


@pytest.fixture(scope="module")
def subject(devcloud: Layout, demo: Any, keypair_and_group: tuple[str, str],
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Subject]:
    """One server for every hibernate case, in a container of this module's own."""
    booted = boot_full(demo, *keypair_and_group)
    held = Subject(booted.id, booted.name, {"container": f"hib-revert-{uuid.uuid4().hex[:8]}"},
                   tmp_path_factory.mktemp("state") / "state.db")
    yield held
    for server in demo.compute.servers(name=booted.name):
        demo.compute.delete_server(server, ignore_missing=True)
        demo.compute.wait_for_delete(server, wait=120)
    listing.delete(Swift(demo), StoreLayout(**held.layout), booted.name)


def _images_of(admin: Any, server_id: str) -> list[str]:
    return [i.id for i in admin.image.images() if i.instance_uuid == server_id]


def _restore_inputs(devcloud: Layout, subject: Subject, project: str) -> dict[str, Any]:
    return {"cloud": SOURCE_ADMIN, "name": subject.name, "project": project, "layout": subject.layout,
            "access": str(devcloud.host_access)}


@pytest.mark.parametrize(("step", "when"), HIBERNATE_POINTS)
def test_failed_hibernate_leaves_the_server_or_its_verified_copy(
        step: str, when: str, subject: Subject, devcloud: Layout, demo: Any, admin: Any) -> None:
    """Before the delete the server is back as it was with nothing left over; after it the verified
    copy is in Swift and restores."""
    project = admin.compute.get_server(subject.id).project_id
    record = run_flow(subject.state, "hibernate", {"cloud": SOURCE_ADMIN, "server": subject.id,
                                                   "layout": subject.layout, "segment_size": 1 << 20},
                      inject=f"{step}:{when}")
    assert record.state is RunState.REVERTED, [t.error for t in record.tasks if t.error]
    assert _images_of(admin, subject.id) == []
    store, lay = Swift(demo), StoreLayout(**subject.layout)
    if (step, when) not in AFTER_DELETE:
        assert admin.compute.get_server(subject.id).status == "ACTIVE"
        assert store.names(lay.container) == [] and store.names(lay.segment_container) == []
        return
    assert admin.compute.find_server(subject.id, ignore_missing=True) is None
    manifest = listing.read(store, lay, subject.name)
    assert manifest.state in (State.VERIFIED, State.HIBERNATED)
    assert slo.hash_object(store, lay.container, lay.disk(subject.name)) == (manifest.disk.size, manifest.disk.sha256)
    restored = run_flow(subject.state, "restore", _restore_inputs(devcloud, subject, project) | {"delete_copy": True})
    assert restored.state is RunState.SUCCEEDED, [t.error for t in restored.tasks if t.error]
    (server,) = list(admin.compute.servers(all_projects=True, name=f"^{subject.name}$"))
    subject.id = server.id
    assert store.names(lay.container) == []


@pytest.fixture(scope="module")
def copy(subject: Subject, admin: Any) -> Subject:
    """The subject hibernated for good, for the restore cases (after the hibernate cases ran)."""
    record = run_flow(subject.state, "hibernate", {"cloud": SOURCE_ADMIN, "server": subject.id,
                                                   "layout": subject.layout, "segment_size": 1 << 20})
    assert record.state is RunState.SUCCEEDED, [t.error for t in record.tasks if t.error]
    return subject


@pytest.mark.parametrize(("step", "when"), RESTORE_POINTS)
def test_failed_restore_removes_what_it_made_and_keeps_the_copy(
        step: str, when: str, copy: Subject, devcloud: Layout, demo: Any, admin: Any) -> None:
    """A restore failing at any step leaves no server, no temporary image, and the copy as it was."""
    store, lay = Swift(demo), StoreLayout(**copy.layout)
    before = listing.read(store, lay, copy.name)
    keypairs = sorted(k.name for k in admin.compute.keypairs())
    record = run_flow(copy.state, "restore", _restore_inputs(devcloud, copy, before.server["project_id"]),
                      inject=f"{step}:{when}")
    assert record.state is RunState.REVERTED, [t.error for t in record.tasks if t.error]
    assert list(admin.compute.servers(all_projects=True, name=f"^{copy.name}$")) == []
    assert [i.id for i in admin.image.images() if i.name == f"opsflow-restore-{copy.name}"] == []
    assert listing.read(store, lay, copy.name) == before
    assert slo.hash_object(store, lay.container, lay.disk(copy.name)) == (before.disk.size, before.disk.sha256)
    assert sorted(k.name for k in admin.compute.keypairs()) == keypairs
