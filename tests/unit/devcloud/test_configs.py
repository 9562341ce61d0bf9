"""Rendering of the simulated cloud's configuration."""

from __future__ import annotations

from pathlib import Path

from opsflow.devcloud import configs
from opsflow.devcloud.layout import KEYSTONE_PORT, Layout


def test_ini_renders_booleans_and_lists() -> None:
    """Booleans become true/false and lists comma-separated values."""
    text = configs.ini({"DEFAULT": {"debug": True, "apis": ["a", "b"], "n": 3}})
    assert text.splitlines() == ["[DEFAULT]", "debug = true", "apis = a,b", "n = 3"]


def test_regions_use_distinct_ports_databases_and_vhosts(tmp_path: Path) -> None:
    """The two regions share nothing but Keystone."""
    layout = Layout(tmp_path)
    src, dst = layout.regions()
    ports = {KEYSTONE_PORT}
    for region in (src, dst):
        ports |= {region.placement_port, region.nova_port, region.neutron_port, region.glance_port}
    assert len(ports) == 9
    assert src.database("nova") != dst.database("nova")
    assert src.vhost != dst.vhost
    assert src.host_prefix != dst.host_prefix


def test_compute_config_has_no_database_and_loads_the_simulator(tmp_path: Path) -> None:
    """nova-compute's config names the simulator driver and has no database sections."""
    layout = Layout(tmp_path)
    files = configs.nova_compute(layout, layout.region("source"), configs.SimSettings())
    (text,) = files.values()
    assert "compute_driver = opsflow_sim.SimDriver" in text
    assert "[database]" not in text and "[api_database]" not in text
    assert "[opsflow_sim]" in text


def test_neutron_binds_only_the_regions_simulated_hosts(tmp_path: Path) -> None:
    """ML2 uses opsflow's mechanism driver limited to the region's host prefix."""
    layout = Layout(tmp_path)
    region = layout.region("destination")
    files = configs.neutron(layout, region, "paste")
    ml2 = next(t for p, t in files.items() if p.name == "ml2_conf.ini")
    assert "mechanism_drivers = opsflow_sim" in ml2
    assert f"host_prefixes = {region.host_prefix}" in ml2
