"""The simulated cloud's object store: one single-replica Swift, in the catalog of both regions.

Forklift, hibernate and restore need an object store that behaves like Swift (SLO, DLO, tempurl,
Keystone accounts). One Swift serves both regions: a region is a catalog entry, and a second
cluster would cost ~400 MB for nothing a test can tell apart. ``swift.py`` (its own module, built
alongside) runs the servers; this module only decides where and with which credentials.
"""

from __future__ import annotations

from pathlib import Path

from opsflow.devcloud import layout as lay
from opsflow.devcloud.swift import KeystoneAuth, Ports, SwiftCluster

__all__ = ["PORTS", "cluster", "log_path", "rows"]

#: Swift's proxy on its customary 8080; storage servers on Swift's defaults; memcached beside the
#: devcloud's block so it never meets a memcached someone else runs on 11211.
PORTS = Ports(proxy=8080, account=6202, container=6201, object=6200, memcached=19050)


def cluster(layout: lay.Layout, venv: Path) -> SwiftCluster:
    """The Swift of the simulated cloud (not started); Keystone tokens, service user ``swift``."""
    auth = KeystoneAuth(layout.auth_url, "swift", lay.SERVICE_PASSWORD)
    return SwiftCluster(layout.state / "swift", venv / "bin", auth, ports=PORTS)


def rows(swift: SwiftCluster) -> list[tuple[str, int, int | None, bool]]:
    """(name, port, pid, healthy) of each Swift process, for ``devcloud status``."""
    ports = {"proxy": PORTS.proxy, "account": PORTS.account, "container": PORTS.container,
             "object": PORTS.object, "memcached": PORTS.memcached}
    healthy = swift.healthy()
    return [(f"swift-{name}", ports.get(name, 0), pid, healthy.get(name, False))
            for name, pid in swift.running().items()]


def log_path(swift: SwiftCluster, name: str) -> Path:
    """The log of the Swift process a ``rows`` entry names (``swift-proxy`` -> its log file)."""
    return Path(swift.layout.log_file(name.removeprefix("swift-")))
