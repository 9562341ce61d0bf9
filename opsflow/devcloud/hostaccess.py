"""The simulated cloud's hypervisors over SSH: one sshd per region and the host-access file naming them.

A real cloud's compute nodes are reached over SSH and keep their disks under ``instances_path``;
here every simulated hypervisor of a region lives in one process on this machine, so one real
sshd per region (``opsflow/services/sshd.py``) stands for all of them, and the host-access file
says so: hypervisors ``sim-sou-*`` are reached at the source region's sshd and keep their disks in
the simulator driver's directory. Every cloud name of ``clouds.yaml`` gets an entry, with the
region's admin cloud as the one that shows a server's host.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from opsflow.devcloud import clouds
from opsflow.devcloud import layout as lay
from opsflow.devcloud import procs
from opsflow.services import sshd

__all__ = ["entries", "prepare", "process", "site"]


def site(region: lay.RegionLayout) -> sshd.SshdSite:
    """The sshd of ``region``."""
    return sshd.SshdSite(region.sshd_dir, region.sshd_port)


def process(region: lay.RegionLayout) -> procs.Proc:
    """The sshd of ``region`` as a process of the simulated cloud (prepare its site before starting)."""
    return procs.Proc(name=f"{region.name}-sshd", region=region.name, argv=site(region).argv(),
                      port=region.sshd_port, ready_text=sshd.READY_TEXT, timeout=30)


def entries(layout: lay.Layout) -> dict[str, Any]:
    """The ``clouds`` mapping of the host-access file."""
    out: dict[str, Any] = {}
    for region in layout.regions():
        ssh = site(region)
        demo, admin = clouds.cloud_names(region.name)
        for name in (demo, admin):  # a rule of its own each: no YAML aliases for a reader to follow
            out[name] = {"admin_cloud": admin, "hypervisors": [{
                "match": f"{region.host_prefix}*",
                "ssh": {"host": ssh.host, "port": ssh.port, "user": ssh.login, "key": str(ssh.client_key),
                        "known_hosts": str(ssh.known_hosts)},
                "disk": {"path": str(region.disk_dir / "{hypervisor}" / "{uuid}.disk")},
            }]}
    return out


def prepare(layout: lay.Layout) -> Path:
    """Lay out each region's sshd (keys made once) and write the host-access file; before the sshds start.

    The file is replaced: it describes only this simulated cloud.
    """
    for region in layout.regions():
        site(region).prepare()
    path = layout.host_access
    tmp = path.with_suffix(".part")
    tmp.write_text("# How opsflow reaches the simulated hypervisors (written by `opsflow devcloud up`).\n"
                   + yaml.safe_dump({"clouds": entries(layout)}, sort_keys=True))
    tmp.replace(path)
    return path
