"""What a single-replica Swift on loopback is told: ports, auth mode and the text of its config files.

Kept apart from the process handling in :mod:`opsflow.devcloud.swift` so the files can be read and
tested without starting anything. Every server binds 127.0.0.1, runs in one process
(``workers = 0``) as the user who starts it (``user = root`` on this machine, where the default
user ``swift`` does not exist), and checks no mount points, because its "disks" are plain
directories.
"""

from __future__ import annotations

import dataclasses
import os
import pwd
from pathlib import Path

from opsflow.identity.service_user import ServiceUser, authtoken_filter

__all__ = [
    "DAEMONS",
    "DAEMON_MODULES",
    "SERVERS",
    "STORAGE_SERVERS",
    "UPDATER_INTERVALS",
    "KeystoneAuth",
    "Layout",
    "Ports",
    "TempAuth",
    "render_configs",
]

#: The storage servers, each with one ring of the same name; started before the proxy.
STORAGE_SERVERS = ("account", "container", "object")

#: Every Swift server this cluster runs, in start order.
SERVERS = (*STORAGE_SERVERS, "proxy")

#: Background daemons (no port) and the server whose config file they read. The updaters carry
#: object and container counts up to containers and accounts, which the servers alone never do:
#: without them an account's object count and bytes used stay at 0.
DAEMONS = {"container-updater": "container", "object-updater": "object"}

#: The module whose ``main()`` each daemon's console script runs.
DAEMON_MODULES = {"container-updater": "swift.container.updater", "object-updater": "swift.obj.updater"}

#: Seconds between two sweeps of each updater (Swift's default, 300, is for real clusters): the
#: container updater keeps account totals fresh; the object updater only retries container
#: updates that failed, rare here, and each of its sweeps costs a fork.
UPDATER_INTERVALS = {"container-updater": 5, "object-updater": 30}


@dataclasses.dataclass(frozen=True)
class Ports:
    """TCP ports on 127.0.0.1; all configurable so the cluster fits beside the rest of a devcloud."""

    proxy: int = 8080
    """The Swift API (``/v1``, ``/auth/v1.0`` with tempauth, ``/healthcheck``)."""
    account: int = 6202
    """Account server, recorded in the account ring."""
    container: int = 6201
    """Container server, recorded in the container ring."""
    object: int = 6200
    """Object server, recorded in the object ring."""
    memcached: int = 11211
    """memcached, which the proxy uses for tempauth tokens and account/container info."""

    def __post_init__(self) -> None:
        self._validate()

    def _validate(self) -> None:
        values = dataclasses.asdict(self)
        for name, port in values.items():
            if not 0 < port < 65536:
                raise ValueError(f"Swift {name} port {port} is outside 1-65535; pick a free TCP port")
        if len(set(values.values())) != len(values):
            raise ValueError(f"Swift ports must differ from each other, got {values}")

    def of(self, server: str) -> int:
        """The port of ``server`` (one of :data:`SERVERS` or ``memcached``)."""
        port: int = getattr(self, server)
        return port


@dataclasses.dataclass(frozen=True)
class TempAuth:
    """Swift's own tempauth: one user in the proxy config, tokens kept in memcached."""

    account: str = "test"
    """Account name; the storage URL ends in ``AUTH_<account>``."""
    user: str = "tester"
    """User name; clients log in as ``<account>:<user>``."""
    key: str = "testing"
    """The user's password (``X-Auth-Key``)."""

    def __post_init__(self) -> None:
        self._validate()

    def _validate(self) -> None:
        for name in ("account", "user"):
            value = getattr(self, name)
            # tempauth splits the option name user_<account>_<user> on "_" and the value on spaces
            if not value or "_" in value or " " in value or ":" in value:
                raise ValueError(f"tempauth {name} {value!r} must be non-empty without '_', ':' or spaces")
        if not self.key or " " in self.key:
            raise ValueError("tempauth key must be non-empty without spaces")


@dataclasses.dataclass(frozen=True)
class KeystoneAuth:
    """Keystone tokens, checked by keystonemiddleware's authtoken and mapped by Swift's keystoneauth."""

    service: ServiceUser
    """The service user authtoken validates tokens with (usually ``swift``)."""
    operator_roles: tuple[str, ...] = ("admin", "member")
    """Roles that own the account of the project they are scoped to."""
    s3_pipeline: str = ""
    """Pipeline words of the S3 API placed after ``authtoken`` (s3api ... s3token); empty: no S3 API."""
    s3_sections: str = ""
    """The filter sections those words name."""

    def __post_init__(self) -> None:
        self._validate()

    def _validate(self) -> None:
        if not self.service.auth_url.startswith(("http://", "https://")):
            raise ValueError(f"Keystone auth_url {self.service.auth_url!r} must start with http:// or https://")
        if not self.service.username or not self.service.password:
            raise ValueError("Keystone auth for Swift needs the service user's name and password")
        if not self.operator_roles:
            raise ValueError("Keystone auth for Swift needs at least one operator role")


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where a cluster keeps its files, all under one state directory."""

    state_dir: Path
    """Root of everything below; removing it (after stop) forgets the cluster."""

    @property
    def etc(self) -> Path:
        """Config files, builders and rings (Swift's ``swift_dir``)."""
        return self.state_dir / "etc"

    @property
    def devices(self) -> Path:
        """Swift's ``devices`` directory; the one device ``d1`` is a plain directory in it."""
        return self.state_dir / "devices"

    @property
    def cache(self) -> Path:
        """Swift's recon cache (the daemons' progress reports)."""
        return self.state_dir / "cache"

    @property
    def run(self) -> Path:
        """Pid files."""
        return self.state_dir / "run"

    @property
    def log(self) -> Path:
        """One log file per server (its stderr, where ``-v`` sends Swift's log lines)."""
        return self.state_dir / "log"

    def conf(self, server: str) -> Path:
        """The config file of a Swift server."""
        return self.etc / f"{server}-server.conf"

    def pid_file(self, server: str) -> Path:
        """The pid file of a server or of memcached."""
        return self.run / f"{server}.pid"

    def log_file(self, server: str) -> Path:
        """The log file of a server or of memcached."""
        return self.log / f"{server}.log"


def _user() -> str:
    """Who the servers run as: whoever starts them (root here, where the default ``swift`` user
    does not exist); Swift switches to this user at start and would fail on any other."""
    return pwd.getpwuid(os.geteuid()).pw_name


def _common(layout: Layout, server: str, port: int) -> str:
    # Swift always adds a syslog handler; with no /dev/log here it would fall back to UDP on
    # "localhost". Naming 127.0.0.1 keeps those datagrams on IPv4 loopback; the readable copy of
    # every line goes to stderr (the server runs with -v), which is the server's log file.
    return (
        "[DEFAULT]\n"
        "bind_ip = 127.0.0.1\n"
        f"bind_port = {port}\n"
        "workers = 0\n"
        f"user = {_user()}\n"
        f"swift_dir = {layout.etc}\n"
        f"devices = {layout.devices}\n"
        "mount_check = false\n"
        "disable_fallocate = true\n"
        f"recon_cache_path = {layout.cache}\n"
        f"log_name = {server}-server\n"
        "log_level = INFO\n"
        "log_udp_host = 127.0.0.1\n"
        "\n"
    )


def _storage_conf(layout: Layout, server: str, port: int) -> str:
    return _common(layout, server, port) + (
        "[pipeline:main]\n"
        f"pipeline = healthcheck {server}-server\n"
        "\n"
        f"[app:{server}-server]\n"
        f"use = egg:swift#{server}\n"
        "\n"
        "[filter:healthcheck]\n"
        "use = egg:swift#healthcheck\n"
    ) + "".join(
        f"\n[{daemon}]\nlog_name = {daemon}\ninterval = {UPDATER_INTERVALS[daemon]}\n"
        for daemon, conf in DAEMONS.items() if conf == server
    )


def _auth_sections(auth: TempAuth | KeystoneAuth) -> tuple[str, str]:
    """The pipeline words and the filter sections of the chosen auth mode."""
    if isinstance(auth, TempAuth):
        return "tempauth", (
            "[filter:tempauth]\n"
            "use = egg:swift#tempauth\n"
            "reseller_prefix = AUTH\n"
            f"user_{auth.account}_{auth.user} = {auth.key} .admin\n"
        )
    # ``cache``: the memcache client of Swift's cache middleware (no python-memcached needed)
    return f"authtoken {auth.s3_pipeline} keystoneauth".replace("  ", " "), auth.s3_sections + (
        authtoken_filter(auth.service, "cache = swift.cache\n") + "\n"
        "[filter:keystoneauth]\n"
        "use = egg:swift#keystoneauth\n"
        "reseller_prefix = AUTH_\n"
        f"operator_roles = {', '.join(auth.operator_roles)}\n"
    )


def _proxy_conf(layout: Layout, ports: Ports, auth: TempAuth | KeystoneAuth) -> str:
    memcache = f"127.0.0.1:{ports.memcached}"
    auth_words, auth_filters = _auth_sections(auth)
    # Order follows what each middleware needs to see: bulk and tempurl before auth (tempurl
    # authorizes signed requests itself), slo and dlo after auth so segment reads are authorized.
    # versioned_writes is listed because the proxy would insert it anyway (and log that it did).
    pipeline = (
        "catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl "
        f"{auth_words} copy slo dlo versioned_writes proxy-logging proxy-server"
    )
    # section name -> entry point in Swift's egg
    plain = {
        "catch_errors": "catch_errors", "gatekeeper": "gatekeeper", "healthcheck": "healthcheck",
        "proxy-logging": "proxy_logging", "listing_formats": "listing_formats", "bulk": "bulk",
        "copy": "copy", "slo": "slo", "dlo": "dlo", "versioned_writes": "versioned_writes",
    }
    filters = "".join(f"[filter:{name}]\nuse = egg:swift#{egg}\n\n" for name, egg in plain.items())
    # sha1 signatures are deprecated; without this the proxy warns at every start
    filters += "[filter:tempurl]\nuse = egg:swift#tempurl\nallowed_digests = sha256 sha512\n\n"
    return _common(layout, "proxy", ports.proxy) + (
        "[pipeline:main]\n"
        f"pipeline = {pipeline}\n"
        "\n"
        "[app:proxy-server]\n"
        "use = egg:swift#proxy\n"
        "account_autocreate = true\n"
        "\n"
        "[filter:cache]\n"
        "use = egg:swift#memcache\n"
        f"memcache_servers = {memcache}\n"
        "\n"
        f"{filters}"
        f"{auth_filters}"
    )


def _swift_conf(hash_suffix: str) -> str:
    return (
        "[swift-hash]\n"
        # the suffix salts where every object lives: it is made once per state dir, never changed
        f"swift_hash_path_suffix = {hash_suffix}\n"
        "\n"
        "[storage-policy:0]\n"
        "name = single\n"
        "default = yes\n"
    )


def render_configs(
    layout: Layout, ports: Ports, auth: TempAuth | KeystoneAuth, hash_suffix: str
) -> dict[Path, str]:
    """Every config file of the cluster, path to text."""
    configs = {layout.etc / "swift.conf": _swift_conf(hash_suffix)}
    for server in STORAGE_SERVERS:
        configs[layout.conf(server)] = _storage_conf(layout, server, ports.of(server))
    configs[layout.conf("proxy")] = _proxy_conf(layout, ports, auth)
    return configs
