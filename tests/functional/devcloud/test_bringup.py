"""The bring-up itself: idempotent, and status shows every service healthy."""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner

from opsflow.devcloud import bringup, configs
from opsflow.devcloud.cli import devcloud as devcloud_cli
from opsflow.devcloud.layout import Layout

pytestmark = pytest.mark.functional


def test_second_up_changes_nothing(devcloud: Layout) -> None:
    """`up` on a running cloud does nothing and returns within seconds."""
    started = time.monotonic()
    said = bringup.up(devcloud, configs.SimSettings())
    assert "nothing to do" in said
    assert time.monotonic() - started < 15


def test_status_shows_every_service_ok(devcloud: Layout) -> None:
    """`devcloud status` lists each service with port and pid, all ok, and exits 0."""
    result = CliRunner().invoke(devcloud_cli, ["status", "-f", "json"])
    assert result.exit_code == 0, result.output
    rows = bringup.status(devcloud, configs.SimSettings())
    assert {r.name for r in rows} >= {"keystone", "source-nova-api", "destination-neutron",
                                      "source-compute", "destination-glance"}
    assert all(r.health == "ok" and r.pid for r in rows)
