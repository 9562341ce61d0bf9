"""A real OpenSSH server on loopback, standing for a hypervisor that an operator reaches over SSH.

Disk transfer is tested against Debian's ``openssh-server`` (``/usr/sbin/sshd``), never a mock:
the ssh client, key handling, host-key checking and the remote commands are then exactly those of
a real compute node. :class:`SshdSite` lays out everything one instance needs in a directory of
its own and leaves the running to the caller's process supervisor (the devcloud's ``procs``), so
there is no second way to spawn, record and stop processes:

* its own host key (``ssh_host_ed25519_key``), so it never shares the machine's identity;
* a client key generated for opsflow (``opsflow_ed25519``) and the only ``authorized_keys`` entry;
* a ``known_hosts`` line for its host key, so clients check the host key rather than skip the check;
* ``sshd_config``: loopback only, public keys only, no PAM, enough parallel sessions for a batch.

``prepare()`` is idempotent: keys are made once and kept, the config is rewritten. Nothing is
installed here; a missing ``sshd`` raises :class:`~opsflow.errors.BackendUnavailable` saying to run
``tools/install-services``.
"""

from __future__ import annotations

import getpass
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from opsflow.errors import BackendUnavailable

__all__ = ["READY_TEXT", "SSHD", "SshdSite"]

#: Debian's OpenSSH server.
SSHD = Path("/usr/sbin/sshd")
#: What sshd logs (with ``-e``) once it accepts connections.
READY_TEXT = "Server listening on"
#: sshd refuses to start without its privilege-separation directory (Debian's init script makes it).
PRIVSEP_DIR = Path("/run/sshd")
_INSTALL_HINT = "run tools/install-services (as root) to install Debian's openssh-server"


@dataclass(frozen=True)
class SshdSite:
    """One sshd's directory, address and login user."""

    #: Directory holding its keys, config and authorized keys.
    root: Path
    #: TCP port on ``host``.
    port: int
    #: Address it listens on (loopback only).
    host: str = "127.0.0.1"
    #: The one user allowed to log in (the user running it, by default).
    user: str = ""

    @property
    def login(self) -> str:
        """The user opsflow logs in as."""
        return self.user or getpass.getuser()

    @property
    def config(self) -> Path:
        """``sshd_config``."""
        return self.root / "sshd_config"

    @property
    def host_key(self) -> Path:
        """The server's private host key."""
        return self.root / "ssh_host_ed25519_key"

    @property
    def client_key(self) -> Path:
        """opsflow's private key, the only one this sshd accepts."""
        return self.root / "opsflow_ed25519"

    @property
    def authorized_keys(self) -> Path:
        """Public keys allowed to log in."""
        return self.root / "authorized_keys"

    @property
    def known_hosts(self) -> Path:
        """A ``known_hosts`` file naming this server's host key at its address and port."""
        return self.root / "known_hosts"

    def argv(self) -> list[str]:
        """The command line: in the foreground (``-D``), logging to stderr (``-e``)."""
        return [str(SSHD), "-D", "-e", "-f", str(self.config)]

    def prepare(self) -> None:
        """Write keys (once), config, authorized keys and known hosts; safe to run again."""
        if not SSHD.is_file():
            raise BackendUnavailable(f"no OpenSSH server at {SSHD}; {_INSTALL_HINT}")
        if shutil.which("ssh-keygen") is None:
            raise BackendUnavailable(f"no ssh-keygen on PATH; {_INSTALL_HINT}")
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        for key, comment in ((self.host_key, "opsflow sshd host key"), (self.client_key, "opsflow")):
            if not key.exists():
                subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment,
                                "-f", str(key)], check=True, stdin=subprocess.DEVNULL)
        self.authorized_keys.write_text(_public(self.client_key))
        self.authorized_keys.chmod(0o600)
        address = self.host if self.port == 22 else f"[{self.host}]:{self.port}"
        self.known_hosts.write_text(f"{address} {_public(self.host_key)}")
        self.config.write_text(self._config_text())

    def _config_text(self) -> str:
        return "\n".join([
            f"Port {self.port}",
            f"ListenAddress {self.host}",
            f"HostKey {self.host_key}",
            f"AuthorizedKeysFile {self.authorized_keys}",
            f"AllowUsers {self.login}",
            "PidFile none",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            "UsePAM no",
            # the site's own directory is 0700, but StrictModes also rejects every parent that is
            # world-writable, such as a test's directory under /tmp
            "StrictModes no",
            "PrintMotd no",
            "X11Forwarding no",
            "AllowTcpForwarding no",
            # a batch opens one session per disk end; the defaults (10:30:100, 10) would drop some
            "MaxStartups 200:30:400",
            "MaxSessions 100",
            "ClientAliveInterval 30",
            "LogLevel INFO",
            "",
        ])


def _public(private_key: Path) -> str:
    text = private_key.with_name(private_key.name + ".pub").read_text()
    return text if text.endswith("\n") else text + "\n"
