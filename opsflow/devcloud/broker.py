"""The simulated cloud's own RabbitMQ: a broker per cloud, never the machine's shared one.

At a few hundred simulated hypervisors per region the message bus is the first thing to break
(about 2.2 connections and 5 queues per hypervisor): on the machine's shared broker that took CI
and every other user of 127.0.0.1:5672 down with it. So each cloud runs Debian's
``rabbitmq-server`` as one more of its processes, through the same supervisor as the rest:

* its own node name (``<prefix>@localhost``), AMQP port (base+80) and Erlang distribution port
  (base+81), so two clouds on different bases never meet; epmd on 4369 is shared, as Erlang means;
* everything under ``<state>/rabbitmq`` -- config, enabled plugins (none), the Erlang cookie
  (``HOME`` points there, so ``rabbitmqctl`` of this module reaches this node and no other), data
  and logs -- wiped with the state, so a bring-up from nothing starts from an empty broker;
* Debian's ``/etc/rabbitmq/rabbitmq-env.conf`` (which names the shared node) is not read;
* a raised open-files limit, since every connection is a socket;
* the regions' vhosts and the guest user come from a definitions file loaded at boot, so the
  broker is ready for the services the moment it accepts AMQP (no ``rabbitmqctl`` round trips,
  each of which costs an Erlang VM start, ~3 s here).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import subprocess
from pathlib import Path

from opsflow.devcloud import layout as lay
from opsflow.devcloud import procs
from opsflow.devcloud.errors import BringUpFailed

__all__ = ["NAME", "ctl", "files", "list_queues", "prepare", "process", "serving"]

#: The process's name in ``status``, logs and pid files.
NAME = "rabbitmq"
#: Debian's scripts, called directly: ``/usr/sbin``'s wrappers switch to the ``rabbitmq`` user
#: and its shared data directory.
SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
CTL = Path("/usr/lib/rabbitmq/bin/rabbitmqctl")
#: Open files wanted (each AMQP connection is one); capped at the machine's hard limit.
NOFILE = 65536
_INSTALL_HINT = "run tools/install-services (as root) to install Debian's rabbitmq-server"
#: AMQP 0-9-1 protocol header; a broker that accepts connections answers it with connection.start.
_AMQP_HEADER = b"AMQP\x00\x00\x09\x01"


def node(layout: lay.Layout) -> str:
    """This cloud's Erlang node name."""
    return f"{layout.prefix}@localhost"


def _env(layout: lay.Layout) -> dict[str, str]:
    d = layout.broker_dir
    return {
        "HOME": str(d),  # the Erlang cookie is $HOME/.erlang.cookie
        "RABBITMQ_NODENAME": node(layout),
        "RABBITMQ_DIST_PORT": str(layout.broker_dist_port),
        "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
        "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
        "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
        "RABBITMQ_LOG_BASE": str(d / "log"),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
    }


def _password_hash(password: str, salt: bytes) -> str:
    """RabbitMQ's ``rabbit_password_hashing_sha256``: base64(salt + sha256(salt + password))."""
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def files(layout: lay.Layout) -> dict[Path, str]:
    """The broker's config, plugin list, empty env file and boot definitions (vhosts, guest)."""
    d = layout.broker_dir
    vhosts = [r.vhost for r in layout.regions()]
    definitions = {
        "users": [{"name": "guest", "password_hash": _password_hash("guest", b"dvcl"),
                   "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": ["administrator"]}],
        "vhosts": [{"name": v} for v in vhosts],
        "permissions": [{"user": "guest", "vhost": v, "configure": ".*", "write": ".*", "read": ".*"}
                        for v in vhosts],
    }
    conf = "\n".join([
        f"listeners.tcp.1 = 127.0.0.1:{layout.broker_port}",
        "definitions.import_backend = local_filesystem",
        f"definitions.local.path = {d / 'definitions.json'}",
        # info on stdout (the process's log, tailed in errors), nothing in a second file
        "log.console = true",
        "log.console.level = info",
        "log.file = false",
        # a simulated cloud's disk is small; the default 50 MB limit is enough headroom
        "",
    ])
    return {d / "rabbitmq.conf": conf, d / "enabled_plugins": "[].\n", d / "rabbitmq-env.conf": "",
            d / "definitions.json": json.dumps(definitions, indent=1) + "\n"}


def prepare(layout: lay.Layout) -> None:
    """Create the data directories and the cookie (owner-only, or Erlang refuses it)."""
    d = layout.broker_dir
    for sub in ("mnesia", "log"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    cookie = d / ".erlang.cookie"
    if not cookie.exists():
        cookie.write_text(hashlib.sha256(f"{layout.home}:{layout.port_base}".encode()).hexdigest()[:20].upper())
    os.chmod(cookie, 0o400)


def serving(port: int, timeout: float = 2.0) -> bool:
    """True if an AMQP broker accepts connections on the loopback ``port`` (it answers the header)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(_AMQP_HEADER)
            return sock.recv(1) == b"\x01"  # frame type METHOD: connection.start
    except OSError:
        return False


def process(layout: lay.Layout) -> procs.Proc:
    """The broker as one of the cloud's processes."""
    if not SERVER.exists():
        raise BringUpFailed("RabbitMQ", f"{SERVER} is missing; {_INSTALL_HINT}")
    port = layout.broker_port
    return procs.Proc(name=NAME, region="", argv=[str(SERVER)], env=_env(layout), port=port,
                      probe=lambda: serving(port), nofile=NOFILE, timeout=180.0)


def ctl(layout: lay.Layout, *args: str, timeout: float = 60.0) -> str:
    """Run ``rabbitmqctl -q ARGS`` against this cloud's broker; its output."""
    try:
        proc = subprocess.run([str(CTL), "-q", "-n", node(layout), *args], capture_output=True, text=True,
                              env={**os.environ, **_env(layout)}, timeout=timeout, cwd=layout.broker_dir)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BringUpFailed("RabbitMQ", f"`rabbitmqctl {' '.join(args)}` failed: {exc}") from exc
    if proc.returncode != 0:
        raise BringUpFailed("RabbitMQ", f"`rabbitmqctl {' '.join(args)}` exited with {proc.returncode}: "
                            f"{(proc.stderr or proc.stdout).strip()} (is the cloud up? "
                            "`opsflow devcloud status`)")
    return proc.stdout


def list_queues(layout: lay.Layout) -> list[tuple[str, str, int, int]]:
    """Every queue of both regions: (vhost, name, messages, consumers), for queue-depth reports."""
    out = []
    for region in layout.regions():
        for line in ctl(layout, "list_queues", "-p", region.vhost, "name", "messages", "consumers",
                        "--no-table-headers").splitlines():
            words = line.split()
            if len(words) == 3 and words[1].isdigit() and words[2].isdigit():
                out.append((region.vhost, words[0], int(words[1]), int(words[2])))
    return out
