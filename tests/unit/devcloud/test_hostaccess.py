"""The devcloud's host-access file: each region's hypervisors at its own sshd, disks in the driver's directory."""

from __future__ import annotations

from pathlib import Path

import yaml

from opsflow.devcloud import hostaccess
from opsflow.devcloud.layout import Layout
from opsflow.transfer import access


def test_every_cloud_maps_its_hypervisors_to_its_region_sshd(tmp_path: Path) -> None:
    """The entries pass the host-access checks; sim-sou-* reach the source sshd, with its key and disk path."""
    layout = Layout(tmp_path, 19200)
    hosts = access.parse(yaml.safe_dump({"clouds": hostaccess.entries(layout)}))
    source = layout.region("source")
    for cloud in ("devcloud-source", "devcloud-source-admin"):
        entry = hosts.cloud(cloud)
        assert entry.admin_cloud == "devcloud-source-admin"
        host = entry.host("sim-sou-001")
        assert (host.ssh.host, host.ssh.port) == ("127.0.0.1", source.sshd_port)
        assert host.ssh.key == source.sshd_dir / "opsflow_ed25519"
        assert host.disk_path("u", "i") == str(source.disk_dir / "sim-sou-001" / "u.disk")
    assert hosts.cloud("devcloud-destination").host("sim-des-002").ssh.port == layout.region("destination").sshd_port


def test_sshd_is_a_process_of_the_cloud_on_its_own_port(tmp_path: Path) -> None:
    """Each region's sshd runs in the foreground from its own config, on the region's sshd port."""
    region = Layout(tmp_path, 19200).region("destination")
    proc = hostaccess.process(region)
    assert proc.name == "destination-sshd"
    assert proc.port == 19224
    assert proc.argv[-2:] == ["-f", str(region.sshd_dir / "sshd_config")]
