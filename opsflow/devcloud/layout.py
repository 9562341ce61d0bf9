"""Where the simulated cloud lives: directories, ports, names and credentials.

Everything is derived from one home directory (``$OPSFLOW_DEVCLOUD_HOME``, default
``~/.cache/opsflow/devcloud``) and fixed loopback ports, so ``up``, ``down`` and ``status`` of
any checkout agree on what they manage. The credentials are fixed too: this cloud listens on
127.0.0.1 only and exists to be thrown away.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ADMIN_PASSWORD",
    "DB_PASSWORD",
    "DB_USER",
    "DEMO_PASSWORD",
    "KEYSTONE_PORT",
    "REGIONS",
    "SERVICE_PASSWORD",
    "Layout",
    "RegionLayout",
]

#: The two clouds forklift moves between; they share only Keystone.
REGIONS = ("source", "destination")
#: Keystone's port; each region's APIs take the next block of ten (source 19010-, destination 19020-).
KEYSTONE_PORT = 19000
_REGION_BASE = {"source": 19010, "destination": 19020}

DB_USER = "devcloud"
DB_PASSWORD = "devcloud-db"
ADMIN_PASSWORD = "devcloud-admin"
DEMO_PASSWORD = "devcloud-demo"
SERVICE_PASSWORD = "devcloud-service"


@dataclass(frozen=True)
class RegionLayout:
    """Ports, databases, queues and directories of one region."""

    #: Region name in Keystone's catalog.
    name: str
    #: This region's state directory (configs, Glance store, simulated disks).
    root: Path

    @property
    def _base(self) -> int:
        return _REGION_BASE[self.name]

    @property
    def placement_port(self) -> int:
        """Placement API."""
        return self._base

    @property
    def nova_port(self) -> int:
        """Nova compute API."""
        return self._base + 1

    @property
    def neutron_port(self) -> int:
        """Neutron API."""
        return self._base + 2

    @property
    def glance_port(self) -> int:
        """Glance API."""
        return self._base + 3

    def database(self, service: str) -> str:
        """MariaDB database name of ``service`` (nova_api, nova, placement, ...) in this region."""
        return f"devcloud_{self.name}_{service}"

    @property
    def vhost(self) -> str:
        """This region's RabbitMQ virtual host, so teardown can drop every queue it made."""
        return f"devcloud-{self.name}"

    @property
    def host_prefix(self) -> str:
        """Simulated hypervisors of this region are named ``<prefix>NNN``."""
        return f"sim-{self.name[:3]}-"

    @property
    def disk_dir(self) -> Path:
        """Root of the simulated VMs' disks, one subdirectory per host."""
        return self.root / "disks"


@dataclass(frozen=True)
class Layout:
    """The whole simulated cloud on this machine."""

    #: Everything the simulated cloud keeps: virtualenv, configs, logs, pid files, data.
    home: Path

    @classmethod
    def default(cls) -> Layout:
        """The layout under ``$OPSFLOW_DEVCLOUD_HOME`` or ``~/.cache/opsflow/devcloud``."""
        home = os.environ.get("OPSFLOW_DEVCLOUD_HOME") or str(Path.home() / ".cache/opsflow/devcloud")
        return cls(Path(home).expanduser().resolve())

    @property
    def state(self) -> Path:
        """Per-run state (configs, data, logs); wiped by a reset, unlike the virtualenv."""
        return self.home / "state"

    @property
    def logs(self) -> Path:
        """One log file per process."""
        return self.state / "logs"

    @property
    def run(self) -> Path:
        """Pid files."""
        return self.state / "run"

    @property
    def keystone_dir(self) -> Path:
        """Keystone's config and key repositories."""
        return self.state / "keystone"

    @property
    def clouds_yaml(self) -> Path:
        """The ``clouds.yaml`` written by ``up`` (point ``OS_CLIENT_CONFIG_FILE`` at it)."""
        return self.home / "clouds.yaml"

    @property
    def state_file(self) -> Path:
        """Fingerprint of the running cloud's configuration, to make a second ``up`` a no-op."""
        return self.state / "devcloud.json"

    @property
    def auth_url(self) -> str:
        """Keystone's public endpoint."""
        return f"http://127.0.0.1:{KEYSTONE_PORT}/v3"

    @property
    def keystone_database(self) -> str:
        """Keystone's database, shared by both regions."""
        return "devcloud_keystone"

    def region(self, name: str) -> RegionLayout:
        """The layout of region ``name``."""
        if name not in REGIONS:
            raise ValueError(f"unknown region {name!r}; the simulated cloud has {', '.join(REGIONS)}")
        return RegionLayout(name, self.state / name)

    def regions(self) -> list[RegionLayout]:
        """Both regions, source first."""
        return [self.region(n) for n in REGIONS]
