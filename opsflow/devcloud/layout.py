"""Where the simulated cloud lives: directories, ports, names and credentials.

Everything is derived from one home directory (``$OPSFLOW_DEVCLOUD_HOME``, default
``~/.cache/opsflow/devcloud``) and one base port (``$OPSFLOW_DEVCLOUD_PORT_BASE``, default 19000),
so ``up``, ``down`` and ``status`` of any checkout agree on what they manage. A second cloud on the
same machine (a developer's branch beside CI's) takes another home and base port: its ports,
MariaDB databases and RabbitMQ vhosts are then all its own. The credentials are fixed: this cloud
listens on 127.0.0.1 only and exists to be thrown away.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ADMIN_PASSWORD",
    "DB_PASSWORD",
    "DB_USER",
    "DEFAULT_PORT_BASE",
    "DEMO_PASSWORD",
    "REGIONS",
    "SERVICE_PASSWORD",
    "Layout",
    "RegionLayout",
]

#: The two clouds forklift moves between; they share only Keystone.
REGIONS = ("source", "destination")
#: Keystone's port when no other base is asked for. Each region's APIs take the next block of ten
#: (source base+10-, destination base+20-; +4 is the region's sshd), memcached base+50, Swift
#: base+60 (proxy) to base+63, the cloud's own RabbitMQ base+80 (AMQP) and base+81 (Erlang
#: distribution).
DEFAULT_PORT_BASE = 19000
_REGION_OFFSET = {"source": 10, "destination": 20}

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
    #: The whole cloud's base port (Keystone's).
    port_base: int = DEFAULT_PORT_BASE
    #: Prefix of this cloud's database and vhost names.
    prefix: str = "devcloud"

    @property
    def _base(self) -> int:
        return self.port_base + _REGION_OFFSET[self.name]

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

    @property
    def sshd_port(self) -> int:
        """The sshd standing for this region's hypervisors (disk transfer logs in there)."""
        return self._base + 4

    @property
    def sshd_dir(self) -> Path:
        """That sshd's keys and config."""
        return self.root / "sshd"

    @property
    def broker_port(self) -> int:
        """The cloud's own RabbitMQ (AMQP), shared by both regions in their own vhosts."""
        return self.port_base + 80

    def database(self, service: str) -> str:
        """MariaDB database name of ``service`` (nova_api, nova, placement, ...) in this region."""
        return f"{self.prefix}_{self.name}_{service}"

    @property
    def vhost(self) -> str:
        """This region's RabbitMQ virtual host, so teardown can drop every queue it made."""
        return f"{self.prefix}-{self.name}"

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
    #: Keystone's port; every other port is an offset from it.
    port_base: int = DEFAULT_PORT_BASE

    @classmethod
    def default(cls) -> Layout:
        """The layout under ``$OPSFLOW_DEVCLOUD_HOME`` (or ``~/.cache/opsflow/devcloud``) on
        ``$OPSFLOW_DEVCLOUD_PORT_BASE`` (or 19000)."""
        home = os.environ.get("OPSFLOW_DEVCLOUD_HOME") or str(Path.home() / ".cache/opsflow/devcloud")
        base = os.environ.get("OPSFLOW_DEVCLOUD_PORT_BASE") or str(DEFAULT_PORT_BASE)
        if not base.isdigit() or not 1024 <= int(base) <= 65000:
            raise ValueError(f"OPSFLOW_DEVCLOUD_PORT_BASE={base!r} is not a port number from 1024 to 65000; "
                             f"unset it for {DEFAULT_PORT_BASE} or give a free block of 100 ports")
        return cls(Path(home).expanduser().resolve(), int(base))

    @property
    def prefix(self) -> str:
        """Prefix of the databases and vhosts: ``devcloud``, or ``devcloud<base>`` on another base."""
        return "devcloud" if self.port_base == DEFAULT_PORT_BASE else f"devcloud{self.port_base}"

    @property
    def keystone_port(self) -> int:
        """Keystone's port."""
        return self.port_base

    @property
    def memcached_port(self) -> int:
        """The object store's memcached."""
        return self.port_base + 50

    @property
    def swift_proxy_port(self) -> int:
        """Swift's proxy; its account, container and object servers take the next three ports."""
        return self.port_base + 60

    @property
    def broker_port(self) -> int:
        """The cloud's own RabbitMQ (AMQP)."""
        return self.port_base + 80

    @property
    def broker_dist_port(self) -> int:
        """That RabbitMQ's Erlang distribution port (``rabbitmqctl`` talks to it there)."""
        return self.port_base + 81

    @property
    def broker_dir(self) -> Path:
        """That RabbitMQ's config, cookie, data and logs; wiped with the state."""
        return self.state / "rabbitmq"

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
    def host_access(self) -> Path:
        """The host-access file written by ``up``: how disk transfer reaches each region's hypervisors."""
        return self.home / "host-access.yaml"

    @property
    def state_file(self) -> Path:
        """Fingerprint of the running cloud's configuration, to make a second ``up`` a no-op."""
        return self.state / "devcloud.json"

    @property
    def auth_url(self) -> str:
        """Keystone's public endpoint."""
        return f"http://127.0.0.1:{self.keystone_port}/v3"

    @property
    def keystone_database(self) -> str:
        """Keystone's database, shared by both regions."""
        return f"{self.prefix}_keystone"

    def region(self, name: str) -> RegionLayout:
        """The layout of region ``name``."""
        if name not in REGIONS:
            raise ValueError(f"unknown region {name!r}; the simulated cloud has {', '.join(REGIONS)}")
        return RegionLayout(name, self.state / name, self.port_base, self.prefix)

    def regions(self) -> list[RegionLayout]:
        """Both regions, source first."""
        return [self.region(n) for n in REGIONS]
