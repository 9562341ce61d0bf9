"""The host-access file: how opsflow reaches each cloud's hypervisors over SSH and finds disks there.

Operators grant SSH access to compute nodes in many ways (root with a key, a service user with
sudo, a bastion in ``~/.ssh/config``); disks live where nova's ``instances_path`` puts them, or
wherever libvirt says. One YAML file says it per cloud, by hypervisor name pattern::

    clouds:
      prod-old:                          # the cloud's name in clouds.yaml
        admin_cloud: prod-old-admin      # optional: whose admin view shows a server's host
        hypervisors:                     # first match wins
          - match: "cmp-*.old.example"   # glob on the hypervisor's name (OS-EXT-SRV-ATTR:host)
            ssh:
              host: "{hypervisor}"       # default; {hypervisor} is the name matched
              port: 22
              user: nova-mover
              key: ~/.ssh/mover_ed25519  # optional (ssh-agent, ~/.ssh/config otherwise)
              known_hosts: ~/.ssh/known_hosts_cloud   # optional
              options: {ProxyJump: bastion.old.example}  # any ssh -o option
            sudo: true                   # run the agent with sudo -n
            python: /usr/bin/python3     # the host's Python 3.7+ (default python3)
            disk:
              path: "/var/lib/nova/instances/{uuid}/disk"   # {uuid}, {instance_name}, {hypervisor}
          - match: "kvm-*"
            ssh: {user: root}
            disk:
              libvirt: "qemu+ssh://{user}@{host}:{port}/system"   # the default URI; discovery asks libvirt
              device: vda                # optional: the disk's target device (default: the first disk)

Relative ``key`` and ``known_hosts`` paths are relative to the file. Everything is checked on load:
a wrong key, type or template field fails with the file, line and column, and a sentence that says
what to write instead. The devcloud writes one for its own sshds (``devcloud/hostaccess.py``).
"""

from __future__ import annotations

import enum
import fnmatch
import os
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opsflow.errors import HostAccessInvalid
from opsflow.flows import yamldoc

__all__ = ["ENV", "CloudAccess", "DiskDiscovery", "DiskRule", "Host", "HostAccess", "SshTarget", "load", "parse"]

#: The environment variable naming the file when an action is given none.
ENV = "OPSFLOW_HOST_ACCESS"
#: Fields the templates may use.
DISK_FIELDS = frozenset({"uuid", "instance_name", "hypervisor"})
SSH_FIELDS = frozenset({"hypervisor"})
LIBVIRT_FIELDS = frozenset({"hypervisor", "user", "host", "port"})
DEFAULT_LIBVIRT_URI = "qemu+ssh://{user}@{host}:{port}/system"

_KEYS: dict[tuple[str, ...], frozenset[str]] = {
    (): frozenset({"clouds"}),
    ("cloud",): frozenset({"admin_cloud", "hypervisors"}),
    ("rule",): frozenset({"match", "ssh", "sudo", "python", "disk"}),
    ("ssh",): frozenset({"host", "port", "user", "key", "known_hosts", "options"}),
    ("disk",): frozenset({"path", "libvirt", "device"}),
}


class DiskDiscovery(enum.Enum):
    """How the disk of a server is found on its hypervisor."""

    #: A path template filled with the server's uuid, instance name and hypervisor.
    PATH = "path"
    #: Ask libvirt (``qemu+ssh://``) for the domain's disk and state.
    LIBVIRT = "libvirt"


@dataclass(frozen=True)
class SshTarget:
    """How to run a command on one hypervisor."""

    #: Address or ssh-config alias.
    host: str
    #: TCP port.
    port: int = 22
    #: Login user ("" lets ssh decide: ~/.ssh/config or the local user).
    user: str = ""
    #: Identity file, or None for ssh's own choice.
    key: Path | None = None
    #: A known_hosts file to check the host key against, or None for ssh's defaults.
    known_hosts: Path | None = None
    #: Extra ``-o NAME=VALUE`` options, in order.
    options: tuple[tuple[str, str], ...] = ()
    #: Prefix the remote command with ``sudo -n``.
    sudo: bool = False
    #: The remote Python interpreter.
    python: str = "python3"

    @property
    def label(self) -> str:
        """``user@host:port`` for messages."""
        return f"{self.user + '@' if self.user else ''}{self.host}:{self.port}"


@dataclass(frozen=True)
class DiskRule:
    """Where a hypervisor keeps its disks."""

    #: Path template or libvirt discovery.
    discovery: DiskDiscovery
    #: The path template (PATH) or the libvirt URI template (LIBVIRT).
    template: str
    #: libvirt only: the disk's target device, "" for the first file-backed disk.
    device: str = ""


@dataclass(frozen=True)
class Host:
    """One hypervisor: how to reach it and how to find its disks."""

    #: Its name as nova reports it.
    hypervisor: str
    #: The SSH target, templates filled in.
    ssh: SshTarget
    #: Where its disks are.
    disk: DiskRule

    def disk_path(self, uuid: str, instance_name: str) -> str:
        """The disk of a server by the PATH rule."""
        return self.disk.template.format(uuid=uuid, instance_name=instance_name, hypervisor=self.hypervisor)

    def libvirt_uri(self) -> str:
        """The libvirt URI of this host by the LIBVIRT rule."""
        return self.disk.template.format(hypervisor=self.hypervisor, user=self.ssh.user or "root",
                                         host=self.ssh.host, port=self.ssh.port)


@dataclass(frozen=True)
class _Rule:
    match: str
    ssh: SshTarget
    disk: DiskRule


@dataclass(frozen=True)
class CloudAccess:
    """The hypervisors of one cloud."""

    #: The cloud's name in clouds.yaml.
    name: str
    #: The cloud whose admin view shows a server's hypervisor (the cloud itself by default).
    admin_cloud: str
    #: Rules in file order; the first whose pattern matches a hypervisor applies.
    rules: tuple[_Rule, ...]
    #: The file, for messages.
    source: str = ""

    def host(self, hypervisor: str) -> Host:
        """How to reach ``hypervisor``; HostAccessInvalid when no rule matches it."""
        for rule in self.rules:
            if fnmatch.fnmatchcase(hypervisor, rule.match):
                target = rule.ssh
                return Host(hypervisor, SshTarget(
                    target.host.format(hypervisor=hypervisor), target.port, target.user, target.key,
                    target.known_hosts, target.options, target.sudo, target.python), rule.disk)
        patterns = ", ".join(repr(r.match) for r in self.rules) or "none"
        raise HostAccessInvalid(f"{self.source}: cloud {self.name!r} has no hypervisor rule matching "
                                f"{hypervisor!r} (patterns: {patterns}); add a `match:` entry for it")


@dataclass(frozen=True)
class HostAccess:
    """A whole host-access file."""

    #: Where it was read from.
    source: str
    #: Per cloud name.
    clouds: Mapping[str, CloudAccess] = field(default_factory=dict)

    def cloud(self, name: str) -> CloudAccess:
        """The entry of cloud ``name``; HostAccessInvalid naming the known clouds when it has none."""
        try:
            return self.clouds[name]
        except KeyError:
            known = ", ".join(sorted(self.clouds)) or "none"
            raise HostAccessInvalid(f"{self.source}: no entry for cloud {name!r} (it has: {known}); "
                                    f"add one under `clouds:`") from None


def load(path: str = "") -> HostAccess:
    """Read the host-access file at ``path``, else at ``$OPSFLOW_HOST_ACCESS``."""
    chosen = path or os.environ.get(ENV, "")
    if not chosen:
        raise HostAccessInvalid(f"no host-access file: pass `access: PATH` or set {ENV} (the simulated "
                                f"cloud writes $OPSFLOW_DEVCLOUD_HOME/host-access.yaml)")
    file = Path(chosen).expanduser()
    return _Checker(yamldoc.read(file), file.parent).document()


def parse(text: str, source: str = "<string>", *, base: Path | None = None) -> HostAccess:
    """Parse and check a host-access document; relative paths are taken from ``base``."""
    return _Checker(yamldoc.parse(text, source), base or Path.cwd()).document()


class _Checker:
    """Walks the document, failing at the first problem with its position."""

    def __init__(self, doc: yamldoc.Document, base: Path) -> None:
        self.doc = doc
        self.base = base

    def fail(self, path: yamldoc.Path, message: str) -> HostAccessInvalid:
        line, column = self.doc.mark(path)
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
        return HostAccessInvalid(f"{self.doc.source}:{line}:{column}: {where or 'document'}: {message}")

    def mapping(self, value: Any, path: yamldoc.Path, kind: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"must be a mapping, not {type(value).__name__}")
        for key in value:
            if key not in _KEYS[(kind,) if kind else ()]:
                allowed = ", ".join(sorted(_KEYS[(kind,) if kind else ()]))
                raise self.fail(path + (key,), f"unknown key {key!r}; allowed here: {allowed}")
        return value

    def text(self, value: Any, path: yamldoc.Path, fields: frozenset[str] | None = None) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(path, "must be a non-empty string")
        if fields is not None:
            used = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
            unknown = sorted(used - fields)
            if unknown or "" in used:
                raise self.fail(path, f"unknown template field {{{(unknown or [''])[0]}}}; "
                                      f"use {', '.join('{' + f + '}' for f in sorted(fields))}")
        return value

    def file(self, value: Any, path: yamldoc.Path) -> Path:
        given = Path(self.text(value, path)).expanduser()
        return given if given.is_absolute() else (self.base / given)

    def document(self) -> HostAccess:
        root = self.mapping(self.doc.value, (), "")
        clouds = root.get("clouds")
        if not isinstance(clouds, dict) or not clouds:
            raise self.fail(("clouds",), "must map each cloud name (as in clouds.yaml) to its hypervisors")
        return HostAccess(self.doc.source, {name: self.cloud(name, body) for name, body in clouds.items()})

    def cloud(self, name: str, body: Any) -> CloudAccess:
        path: yamldoc.Path = ("clouds", name)
        body = self.mapping(body, path, "cloud")
        admin = self.text(body["admin_cloud"], path + ("admin_cloud",)) if "admin_cloud" in body else name
        rules = body.get("hypervisors")
        if not isinstance(rules, list) or not rules:
            raise self.fail(path + ("hypervisors",), "must be a list of `match:` rules, at least one")
        return CloudAccess(name, admin, tuple(self.rule(r, path + ("hypervisors", i)) for i, r in enumerate(rules)),
                           self.doc.source)

    def rule(self, body: Any, path: yamldoc.Path) -> _Rule:
        body = self.mapping(body, path, "rule")
        for required in ("match", "disk"):
            if required not in body:
                raise self.fail(path, f"missing `{required}:`")
        sudo = body.get("sudo", False)
        if not isinstance(sudo, bool):
            raise self.fail(path + ("sudo",), "must be true or false")
        python = self.text(body.get("python", "python3"), path + ("python",))
        ssh = self.ssh(body.get("ssh", {}), path + ("ssh",), sudo, python)
        return _Rule(self.text(body["match"], path + ("match",)), ssh, self.disk(body["disk"], path + ("disk",)))

    def ssh(self, body: Any, path: yamldoc.Path, sudo: bool, python: str) -> SshTarget:
        body = self.mapping(body, path, "ssh")
        port = body.get("port", 22)
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise self.fail(path + ("port",), "must be a port number from 1 to 65535")
        options = body.get("options", {})
        if not isinstance(options, dict) or not all(isinstance(v, (str, int)) for v in options.values()):
            raise self.fail(path + ("options",), "must map ssh option names to values, e.g. {ProxyJump: bastion}")
        return SshTarget(
            host=self.text(body.get("host", "{hypervisor}"), path + ("host",), SSH_FIELDS),
            port=port,
            user=self.text(body["user"], path + ("user",)) if "user" in body else "",
            key=self.file(body["key"], path + ("key",)) if "key" in body else None,
            known_hosts=self.file(body["known_hosts"], path + ("known_hosts",)) if "known_hosts" in body else None,
            options=tuple((str(k), str(v)) for k, v in options.items()),
            sudo=sudo, python=python)

    def disk(self, body: Any, path: yamldoc.Path) -> DiskRule:
        body = self.mapping(body, path, "disk")
        if ("path" in body) == ("libvirt" in body):
            raise self.fail(path, "give exactly one of `path:` (a template) or `libvirt:` (a URI template)")
        if "path" in body:
            if "device" in body:
                raise self.fail(path + ("device",), "`device:` goes with `libvirt:` only")
            template = self.text(body["path"], path + ("path",), DISK_FIELDS)
            if not template.startswith("/"):
                raise self.fail(path + ("path",), "must be an absolute path on the hypervisor")
            return DiskRule(DiskDiscovery.PATH, template)
        uri = body["libvirt"]
        template = DEFAULT_LIBVIRT_URI if uri is True else self.text(uri, path + ("libvirt",), LIBVIRT_FIELDS)
        device = self.text(body["device"], path + ("device",)) if "device" in body else ""
        return DiskRule(DiskDiscovery.LIBVIRT, template, device)
