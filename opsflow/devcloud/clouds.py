"""The ``clouds.yaml`` of the simulated cloud: admin and demo entries for each region."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from opsflow.devcloud import layout as lay

__all__ = ["cloud_names", "entries", "write"]


def cloud_names(region: str) -> tuple[str, str]:
    """(demo cloud name, admin cloud name) of ``region``: ``devcloud-source``, ``devcloud-source-admin``."""
    return f"devcloud-{region}", f"devcloud-{region}-admin"


def entries(layout: lay.Layout) -> dict[str, Any]:
    """The ``clouds`` mapping."""
    out: dict[str, Any] = {}
    for region in lay.REGIONS:
        demo, admin = cloud_names(region)
        for name, user, password, project in ((demo, "demo", lay.DEMO_PASSWORD, "demo"),
                                              (admin, "admin", lay.ADMIN_PASSWORD, "admin")):
            out[name] = {
                "auth": {"auth_url": layout.auth_url, "username": user, "password": password,
                         "project_name": project, "user_domain_name": "Default",
                         "project_domain_name": "Default"},
                "region_name": region,
                "identity_api_version": 3,
                "interface": "public",
            }
    return out


def write(layout: lay.Layout) -> Path:
    """Write ``clouds.yaml`` (replacing it: every entry in it belongs to the simulated cloud)."""
    layout.clouds_yaml.parent.mkdir(parents=True, exist_ok=True)
    tmp = layout.clouds_yaml.with_suffix(".part")
    tmp.write_text(yaml.safe_dump({"clouds": entries(layout)}, sort_keys=True))
    tmp.replace(layout.clouds_yaml)
    return layout.clouds_yaml
