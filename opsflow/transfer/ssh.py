"""Running the transfer agent on a hypervisor with OpenSSH's ``ssh`` client, and reading its answer.

Why the ``ssh`` client in a subprocess rather than paramiko or asyncssh: measured on this 2-core
machine (shared, load around 15), reading the same 256 MiB through one loopback sshd took 3.2 s
with ``ssh -c aes128-gcm@openssh.com`` (4.5 s with ssh's default ChaCha20), 5.5 s with paramiko
3 and 10.5 s with asyncssh 2; the libraries run their framing and part of their crypto in the
Python process, and a host-to-host copy would pass every byte through opsflow's process twice
(in from one host, out to the other). With two ``ssh`` processes whose stdin and stdout are
cross-connected, opsflow's process touches no byte of the disk at all, and operators keep what
their ``ssh`` already knows: ``~/.ssh/config``, ProxyJump bastions, agents, certificates and
known_hosts. It adds no dependency either.

The options every call gets: ``BatchMode`` (never a password prompt on a conductor), a connect
timeout and keep-alives (a dead host fails the task within a minute instead of hanging it), no
compression (disks are either already compressed or holes, which are never sent), and AES-GCM first
(hardware AES beats ChaCha20 on every x86 hypervisor; ssh still falls back to what the server has).
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from opsflow.errors import ChecksumMismatch, TransferFailed
from opsflow.transfer import agent
from opsflow.transfer.access import Host, SshTarget

__all__ = ["BLOCK", "agent_argv", "result", "severity", "ssh_argv"]

#: Block size of transfers and deltas: 1 GiB has 1024 blocks, and 5 % of them dirty send ~51 MiB.
BLOCK = 1 << 20
#: The agent's source, sent as ``python3 -c`` (nothing is installed on hypervisors).
_AGENT_SOURCE = Path(agent.__file__).read_text()
_BASE_OPTIONS = (
    ("BatchMode", "yes"),
    ("ConnectTimeout", "30"),  # a loaded conductor or hypervisor may take 10 s to finish a handshake
    ("ServerAliveInterval", "15"),
    ("ServerAliveCountMax", "3"),
    ("Compression", "no"),
    ("Ciphers", "aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,aes128-ctr"),
)
#: The exit status ssh itself uses for its own failures (connection, authentication).
SSH_FAILED = 255


def ssh_argv(target: SshTarget) -> list[str]:
    """``ssh`` with the target's address, identity, host keys and options, ready for a command."""
    argv = ["ssh", "-T", "-e", "none", "-p", str(target.port)]
    # ssh keeps the first value of an option: the operator's come first
    for name, value in (*target.options, *_BASE_OPTIONS):
        argv += ["-o", f"{name}={value}"]
    if target.key is not None:
        argv += ["-i", str(target.key), "-o", "IdentitiesOnly=yes"]
    if target.known_hosts is not None:
        argv += ["-o", f"UserKnownHostsFile={target.known_hosts}", "-o", "StrictHostKeyChecking=yes"]
    if target.user:
        argv += ["-l", target.user]
    return [*argv, target.host, "--"]


def agent_argv(host: Host, mode: str, path: str, block: int = BLOCK) -> list[str]:
    """The local command that runs the agent in ``mode`` on ``host`` for the disk at ``path``."""
    target = host.ssh
    remote = [target.python, "-c", _AGENT_SOURCE, mode, path, str(block)]
    if target.sudo:
        remote = ["sudo", "-n", *remote]
    return [*ssh_argv(target), shlex.join(remote)]


def result(host: Host, returncode: int, stderr: str) -> dict[str, Any]:
    """The agent's result from its stderr, or the one-line error that says what went wrong where."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith(agent.RESULT) and returncode == 0:
            parsed: dict[str, Any] = json.loads(line[len(agent.RESULT):])
            return parsed
    for line in reversed(lines):
        if line.startswith(agent.ERROR):
            message = f"{host.hypervisor}: {line[len(agent.ERROR):]}"
            cls = ChecksumMismatch if returncode == 3 else TransferFailed
            raise cls(message, host=host.hypervisor)
    last = lines[-1] if lines else f"exit status {returncode} and no message"
    if returncode == SSH_FAILED:
        raise TransferFailed(f"cannot reach hypervisor {host.hypervisor} over SSH as {host.ssh.label}: {last}; "
                             f"check its entry in the host-access file", host=host.hypervisor)
    raise TransferFailed(f"{host.hypervisor}: the transfer agent failed ({last}); it needs "
                         f"{host.ssh.python} (3.7 or later) on the host", host=host.hypervisor)


def severity(returncode: int, stderr: str) -> int:
    """How telling one end's failure is, lowest first: a checksum mismatch, then ssh's own failure
    (unreachable, key refused), then the agent's own message, then anything else, and last a peer
    that only saw the other end go away (the consequence of another failure, never its cause)."""
    messages = [line for line in stderr.splitlines() if line.startswith(agent.ERROR)]
    if returncode == 3:
        return 0
    if returncode == SSH_FAILED and not messages:
        return 1
    if messages and not any(peer in messages[-1] for peer in agent.PEER_GONE):
        return 2
    return 4 if messages else 3
