"""Which processes the simulated cloud runs for a shape of settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsflow.devcloud import bringup, configs
from opsflow.devcloud.errors import BringUpFailed
from opsflow.devcloud.layout import Layout


def _names(tmp_path: Path, sim: configs.SimSettings) -> list[str]:
    return [p.name for p in bringup.plan(Layout(tmp_path), tmp_path / "venv", sim)]


def test_one_conductor_shares_the_control_process(tmp_path: Path) -> None:
    """By default each region runs nova-conductor inside ``<region>-nova-control``, no process of its own."""
    names = _names(tmp_path, configs.SimSettings())
    assert "source-nova-control" in names and not [n for n in names if "-nova-conductor-" in n]


def test_further_conductors_run_one_process_each_on_the_regions_config(tmp_path: Path) -> None:
    """``conductors=3``: two more processes per region, each nova's conductor alone on that region's nova.conf."""
    sim = configs.SimSettings(conductors=3)
    by_name = {p.name: p for p in bringup.plan(Layout(tmp_path), tmp_path / "venv", sim)}
    for region in ("source", "destination"):
        for n in (2, 3):
            argv = by_name[f"{region}-nova-conductor-{n}"].argv
            assert argv[1:3] == ["-m", "opsflow.plugins.nova.conductor"]
            assert argv[-1] == str(Layout(tmp_path).region(region).root / "nova" / "nova.conf")
    assert "source-nova-conductor-4" not in by_name


def test_more_conductors_than_the_bound_are_refused_naming_it(tmp_path: Path) -> None:
    """A shape asking for more conductors than a region may run is refused before anything starts."""
    with pytest.raises(BringUpFailed, match=f"outside 1..{bringup.MAX_CONDUCTORS}"):
        _names(tmp_path, configs.SimSettings(conductors=bringup.MAX_CONDUCTORS + 1))
