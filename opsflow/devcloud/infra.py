"""The machine's MariaDB and RabbitMQ: the simulated cloud's databases, user and virtual hosts.

CI and later sessions find whatever earlier runs left in them, so a bring-up from nothing drops
and recreates its own databases and vhosts rather than assuming a blank machine. Only names
starting with ``devcloud`` are touched.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Sequence

from opsflow.devcloud import layout as lay
from opsflow.devcloud.errors import BringUpFailed

__all__ = ["databases", "reset_databases", "reset_vhost", "drop_databases", "drop_vhost"]

LOG = logging.getLogger(__name__)


def databases(layout: lay.Layout) -> list[str]:
    """Every database of the simulated cloud."""
    names = [layout.keystone_database]
    for region in layout.regions():
        names += [region.database(s) for s in ("nova_api", "nova", "nova_cell0", "placement",
                                                "glance", "neutron")]
    return names


def _mysql(sql: str) -> None:
    client = shutil.which("mariadb") or shutil.which("mysql")
    if client is None:
        raise BringUpFailed("MariaDB", "no mariadb/mysql client on PATH; install mariadb-client")
    proc = subprocess.run([client, "-u", "root", "-e", sql], capture_output=True, text=True)
    if proc.returncode != 0:
        raise BringUpFailed("MariaDB", f"{proc.stderr.strip()} (as root over the unix socket; is "
                            "mariadbd running? `start-stop-daemon --start --oknodo --background "
                            "--exec /usr/sbin/mariadbd` starts it)")


def reset_databases(names: Sequence[str]) -> None:
    """Drop and create ``names`` and grant them to the simulated cloud's user."""
    stmts = [f"CREATE USER IF NOT EXISTS '{lay.DB_USER}'@'127.0.0.1' IDENTIFIED BY '{lay.DB_PASSWORD}'",
             f"CREATE USER IF NOT EXISTS '{lay.DB_USER}'@'localhost' IDENTIFIED BY '{lay.DB_PASSWORD}'"]
    for name in names:
        stmts += [f"DROP DATABASE IF EXISTS `{name}`",
                  f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4",
                  f"GRANT ALL PRIVILEGES ON `{name}`.* TO '{lay.DB_USER}'@'127.0.0.1'",
                  f"GRANT ALL PRIVILEGES ON `{name}`.* TO '{lay.DB_USER}'@'localhost'"]
    _mysql(";\n".join(stmts) + ";")


def drop_databases(names: Sequence[str]) -> None:
    """Drop ``names`` (teardown)."""
    _mysql(";\n".join(f"DROP DATABASE IF EXISTS `{n}`" for n in names) + ";")


def _rabbitmqctl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        raise BringUpFailed("RabbitMQ", "rabbitmqctl is not on PATH; is rabbitmq-server installed?")
    proc = subprocess.run([ctl, "-q", *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise BringUpFailed("RabbitMQ", f"`rabbitmqctl {' '.join(args)}` failed: "
                            f"{(proc.stderr or proc.stdout).strip()} (is it running? "
                            "`rabbitmq-server -detached` starts it)")
    return proc


def reset_vhost(vhost: str) -> None:
    """Recreate ``vhost`` empty, with full rights for guest."""
    drop_vhost(vhost)
    _rabbitmqctl("add_vhost", vhost)
    _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")


def drop_vhost(vhost: str) -> None:
    """Delete ``vhost`` and every queue in it, if it exists."""
    listing = _rabbitmqctl("list_vhosts", "name").stdout.split()
    if vhost in listing:
        _rabbitmqctl("delete_vhost", vhost)
