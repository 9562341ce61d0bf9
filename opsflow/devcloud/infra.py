"""The machine's MariaDB: the simulated cloud's databases and user.

CI and later sessions find whatever earlier runs left in it, so a bring-up from nothing drops
and recreates its own databases rather than assuming a blank machine. Only names starting with
``devcloud`` are touched. (The message bus is no longer the machine's: each cloud runs its own,
:mod:`opsflow.devcloud.broker`.)
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Sequence

from opsflow.devcloud import layout as lay
from opsflow.devcloud.errors import BringUpFailed

__all__ = ["databases", "drop_databases", "query", "reset_databases"]

LOG = logging.getLogger(__name__)


def databases(layout: lay.Layout) -> list[str]:
    """Every database of the simulated cloud."""
    names = [layout.keystone_database]
    for region in layout.regions():
        names += [region.database(s) for s in ("nova_api", "nova", "nova_cell0", "placement",
                                                "glance", "neutron")]
    return names


def _mysql(sql: str, *options: str) -> str:
    client = shutil.which("mariadb") or shutil.which("mysql")
    if client is None:
        raise BringUpFailed("MariaDB", "no mariadb/mysql client on PATH; install mariadb-client")
    proc = subprocess.run([client, "-u", "root", *options, "-e", sql], capture_output=True, text=True)
    if proc.returncode != 0:
        raise BringUpFailed("MariaDB", f"{proc.stderr.strip()} (as root over the unix socket; is "
                            "mariadbd running? `start-stop-daemon --start --oknodo --background "
                            "--exec /usr/sbin/mariadbd` starts it)")
    return proc.stdout


def query(sql: str) -> list[list[str]]:
    """The rows of one statement, as the server's text (for the ramp-up's database probe)."""
    return [line.split("\t") for line in _mysql(sql, "--batch", "--skip-column-names").splitlines()]


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
