"""The simulated cloud's object store: one single-replica Swift, in the catalog of both regions.

Forklift, hibernate and restore need an object store that behaves like Swift (SLO, DLO, tempurl,
Keystone accounts). One Swift serves both regions: a region is a catalog entry, and a second
cluster would cost ~400 MB for nothing a test can tell apart. ``swift.py`` (its own module, built
alongside) runs the servers; this module only decides where and with which credentials.
"""

from __future__ import annotations

from pathlib import Path

from opsflow.devcloud import auth as s3
from opsflow.devcloud import layout as lay
from opsflow.devcloud.swift import KeystoneAuth, Ports, SwiftCluster
from opsflow.identity.service_user import ServiceUser

__all__ = ["cluster", "log_path", "ports", "rows"]


def ports(layout: lay.Layout) -> Ports:
    """Swift's ports inside the cloud's block, so it never meets a Swift or memcached (8080, 6200-6202,
    11211) someone else runs on this machine."""
    proxy = layout.swift_proxy_port
    return Ports(proxy=proxy, container=proxy + 1, account=proxy + 2, object=proxy + 3,
                 memcached=layout.memcached_port)


def cluster(layout: lay.Layout, venv: Path) -> SwiftCluster:
    """The Swift of the simulated cloud (not started); Keystone tokens, service user ``swift``."""
    auth = KeystoneAuth(ServiceUser(layout.auth_url, "swift", lay.SERVICE_PASSWORD),
                        s3_pipeline=s3.s3_pipeline(), s3_sections=s3.s3_sections(layout))
    return SwiftCluster(layout.state / "swift", venv / "bin", auth, ports=ports(layout))


def rows(swift: SwiftCluster) -> list[tuple[str, int, int | None, bool]]:
    """(name, port, pid, healthy) of each Swift process, for ``devcloud status``."""
    healthy = swift.healthy()
    # the updaters listen on no port
    return [(f"swift-{name}", getattr(swift.ports, name, 0), pid, healthy.get(name, False))
            for name, pid in swift.running().items()]


def log_path(swift: SwiftCluster, name: str) -> Path:
    """The log of the Swift process a ``rows`` entry names (``swift-proxy`` -> its log file)."""
    return Path(swift.layout.log_file(name.removeprefix("swift-")))
