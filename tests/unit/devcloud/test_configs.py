"""Rendering of the simulated cloud's configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsflow.devcloud import configs
from opsflow.devcloud.layout import Layout


def test_ini_renders_booleans_and_lists() -> None:
    """Booleans become true/false and lists comma-separated values."""
    text = configs.ini({"DEFAULT": {"debug": True, "apis": ["a", "b"], "n": 3}})
    assert text.splitlines() == ["[DEFAULT]", "debug = true", "apis = a,b", "n = 3"]


def test_regions_use_distinct_ports_databases_and_vhosts(tmp_path: Path) -> None:
    """The two regions share nothing but Keystone."""
    layout = Layout(tmp_path)
    src, dst = layout.regions()
    ports = {layout.keystone_port}
    for region in (src, dst):
        ports |= {region.placement_port, region.nova_port, region.neutron_port, region.glance_port}
    assert len(ports) == 9
    assert src.database("nova") != dst.database("nova")
    assert src.vhost != dst.vhost
    assert src.host_prefix != dst.host_prefix


def test_another_port_base_shares_no_port_database_or_vhost(tmp_path: Path) -> None:
    """Two clouds on different base ports have disjoint ports, databases and vhosts."""
    def names(layout: Layout) -> set[object]:
        out: set[object] = {layout.keystone_port, layout.memcached_port, layout.swift_proxy_port,
                            layout.keystone_database}
        for region in layout.regions():
            out |= {region.placement_port, region.nova_port, region.neutron_port, region.glance_port,
                    region.database("nova"), region.vhost}
        return out

    first, second = Layout(tmp_path / "a"), Layout(tmp_path / "b", port_base=19100)
    assert first.keystone_database == "devcloud_keystone"
    assert not names(first) & names(second)


def test_a_bad_port_base_is_refused_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    """OPSFLOW_DEVCLOUD_PORT_BASE must be a port number; the message says what to set."""
    monkeypatch.setenv("OPSFLOW_DEVCLOUD_PORT_BASE", "nineteen")
    with pytest.raises(ValueError, match="OPSFLOW_DEVCLOUD_PORT_BASE='nineteen'"):
        Layout.default()


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
