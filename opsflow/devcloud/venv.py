"""The OpenStack services' own virtualenv, built once per set of pins and reused.

It lives outside the checkout, at ``<home>/venv-<hash of requirements.txt>``, so every checkout
and every CI run on this machine shares it and a change of pins builds a new one. opsflow itself
is installed into it (editable, without dependencies) so nova-compute and neutron can load the
project's plugins; that step reruns only when the checkout or its packaging changes.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
from importlib import resources
from pathlib import Path

from opsflow.devcloud.errors import BringUpFailed

__all__ = ["PINS", "ensure", "python", "venv_dir"]

LOG = logging.getLogger(__name__)

#: The pinned requirements of the services' virtualenv (package data).
PINS = "requirements.txt"
#: Marker files inside the virtualenv.
_DONE = ".devcloud-installed"
_OPSFLOW = ".devcloud-opsflow"


def _pins_text() -> str:
    return resources.files("opsflow.devcloud").joinpath(PINS).read_text()


def _checkout() -> Path:
    """The source tree opsflow runs from (its package's parent)."""
    return Path(__file__).resolve().parents[2]


def venv_dir(home: Path) -> Path:
    """The virtualenv for the current pins."""
    digest = hashlib.sha256(_pins_text().encode()).hexdigest()[:12]
    return home / f"venv-{digest}"


def python(home: Path) -> Path:
    """The virtualenv's interpreter."""
    return venv_dir(home) / "bin" / "python"


def _run(cmd: list[str], log: Path, what: str) -> None:
    with open(log, "ab") as out:
        rc = subprocess.call(cmd, stdout=out, stderr=subprocess.STDOUT)
    if rc != 0:
        raise BringUpFailed(what, f"`{' '.join(cmd[:4])} ...` exited with {rc}", log)


def ensure(home: Path) -> Path:
    """Build the virtualenv if it is missing or half-built; (re)install opsflow if needed."""
    venv = venv_dir(home)
    home.mkdir(parents=True, exist_ok=True)
    log = home / "venv-install.log"
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    if not (venv / _DONE).exists():
        LOG.info("installing the OpenStack services into %s (about 80 s, once per set of pins)", venv)
        _run([sys.executable, "-m", "venv", "--clear", str(venv)], log, "services virtualenv")
        pins = venv / PINS
        pins.write_text(_pins_text())
        _run([*pip, "install", "-r", str(pins)], log, "services virtualenv")
        (venv / _DONE).write_text(_pins_text())
    checkout = _checkout()
    packaging = (checkout / "pyproject.toml").read_bytes() if (checkout / "pyproject.toml").exists() else b""
    want = f"{checkout}\n{hashlib.sha256(packaging).hexdigest()}"
    marker = venv / _OPSFLOW
    if not marker.exists() or marker.read_text() != want:
        LOG.info("installing opsflow from %s into the services virtualenv", checkout)
        _run([*pip, "install", "--no-deps", "-e", str(checkout)], log,
             "opsflow in the services virtualenv")
        marker.write_text(want)
    return venv
