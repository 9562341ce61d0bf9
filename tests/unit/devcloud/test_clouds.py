"""The clouds.yaml entries of the simulated cloud."""

from __future__ import annotations

from pathlib import Path

import yaml

from opsflow.devcloud import clouds
from opsflow.devcloud.layout import Layout


def test_admin_and_demo_per_region(tmp_path: Path) -> None:
    """Each region has a demo and an admin cloud, sharing Keystone's URL."""
    layout = Layout(tmp_path)
    data = yaml.safe_load(clouds.write(layout).read_text())["clouds"]
    assert set(data) == {"devcloud-source", "devcloud-source-admin",
                         "devcloud-destination", "devcloud-destination-admin"}
    assert data["devcloud-destination"]["region_name"] == "destination"
    assert data["devcloud-source-admin"]["auth"]["username"] == "admin"
    assert {c["auth"]["auth_url"] for c in data.values()} == {layout.auth_url}
