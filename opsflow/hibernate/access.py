"""Connections for hibernation: the operator's cloud, scoped to the server owner's project.

Everything about one hibernated server happens in its owner's project: the copy lives in that
project's Swift account (so its quota and its ACLs are the owner's) and a restore boots the
server there (Nova creates servers in the token's project). An admin acting for the owner needs a
role in that project (``openstack role add --project P --user U admin``); the error says so.
"""

from __future__ import annotations

import logging
from typing import Any

import openstack
from keystoneauth1 import exceptions as ksa_exc

from opsflow.errors import ActionFailed

__all__ = ["connect"]

LOG = logging.getLogger(__name__)


def connect(cloud: str, project: str = "") -> Any:
    """An openstacksdk connection for ``cloud`` (a clouds.yaml name), scoped to project id ``project``
    when given and different from the cloud's own."""
    conn = openstack.connect(cloud=cloud)
    if not project or conn.current_project_id == project:
        return conn
    try:
        scoped = conn.connect_as(project_id=project)
        scoped.authorize()
    except (openstack.exceptions.SDKException, ksa_exc.ClientException) as exc:
        raise ActionFailed(f"cloud {cloud!r} cannot act in project {project}: {exc}; give its user a role "
                           f"there (openstack role add --project {project} --user USER admin)") from exc
    return scoped
