"""Checksum the first N bytes of a server's disk on its hypervisor, over the transfer helper's SSH.

A restored server's disk starts with the hibernated bytes; after them comes whatever its
hypervisor adds (growth up to a larger root disk, the simulator's per-instance stamp). So the
check is of that prefix: ``head -c N`` piped into ``sha256sum`` on the host (holes read as
zeros), found and reached exactly as disk transfers reach it (:mod:`opsflow.transfer.servers`,
the host-access file), so only the 64-character answer crosses the wire.
"""

from __future__ import annotations

import logging
import re
import shlex
import subprocess

from opsflow.errors import TransferFailed
from opsflow.transfer import access as host_access, servers, ssh

__all__ = ["prefix_sha256"]

LOG = logging.getLogger(__name__)

#: Seconds a checksum may take (a multi-GB disk at disk speed, with room to spare).
TIMEOUT = 3600.0

_SHA = re.compile(r"^([0-9a-f]{64})\b")


def prefix_sha256(cloud: str, server: str, length: int, access: str = "") -> str:
    """SHA-256 of the first ``length`` bytes of ``server``'s disk, computed on its hypervisor."""
    disk = servers.locate(host_access.load(access), cloud, server)
    target = disk.end.host.ssh
    remote = f"head -c {int(length)} -- {shlex.quote(disk.end.path)} | sha256sum"
    if target.sudo:
        remote = f"sudo -n sh -c {shlex.quote(remote)}"
    done = subprocess.run([*ssh.ssh_argv(target), remote], capture_output=True, text=True, timeout=TIMEOUT,
                          check=False)
    found = _SHA.match(done.stdout)
    if done.returncode != 0 or found is None:
        raise TransferFailed(f"{disk.hypervisor}: could not checksum the disk of server {server} "
                             f"({(done.stderr or done.stdout).strip()[-300:]}); check its entry in the host-access file",
                             host=disk.hypervisor)
    LOG.info("%s: first %d bytes of %s hash to %s", disk.hypervisor, length, server, found.group(1))
    return found.group(1)
