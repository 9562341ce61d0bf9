"""Behaviour profiles change what the running simulated hypervisors do, with no restart."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from opsflow.devcloud import profiles
from opsflow.devcloud.layout import Layout

from .conftest import boot

pytestmark = pytest.mark.functional


@pytest.fixture
def profiled(devcloud: Layout) -> Iterator[Layout]:
    """The cloud, with whatever profile the test applies cleared afterwards."""
    try:
        yield devcloud
    finally:
        profiles.clear(devcloud)


def test_a_profile_fails_boots_then_slows_them_then_clear_restores(profiled: Layout, demo: Any,
                                                                    region: str) -> None:
    """Every boot fails with the profile's reason; then each takes at least the profiled 6 s; cleared,
    boots are back to the configured timing."""
    hosts = f"{profiled.region(region).host_prefix}*"
    profiles.apply(profiled, profiles.load_text(f"groups:\n  - hosts: '{hosts}'\n    failures: {{spawn: 1}}\n"))
    failed = boot(demo, wait=False)
    try:
        failed = demo.compute.wait_for_server(failed, status="ERROR", failures=[], interval=1, wait=120)
        assert "behaviour profile" in str(failed.fault)
    finally:
        demo.compute.delete_server(failed, ignore_missing=True)

    profiles.apply(profiled, profiles.load_text(
        f"groups:\n  - hosts: '{hosts}'\n    latency: {{spawn: {{fixed: 6}}}}\n"))
    began = time.monotonic()
    slow = boot(demo)
    try:
        assert time.monotonic() - began >= 6
    finally:
        demo.compute.delete_server(slow, ignore_missing=True)

    profiles.clear(profiled)
    fine = boot(demo)
    demo.compute.delete_server(fine, ignore_missing=True)
    for server in (failed, slow, fine):
        demo.compute.wait_for_delete(server, interval=1, wait=120)
