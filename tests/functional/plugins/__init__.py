"""Actions that exist only for functional tests, registered as a real plugin would be.

:func:`registered` writes a ``*.dist-info`` folder whose ``entry_points.txt`` names them under
``opsflow.tasks``; a subprocess with that folder on ``PYTHONPATH`` finds them as any operator's
own actions are found, through importlib's entry points.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The test actions, as entry points.
ENTRY_POINTS = {"test.marker": "tests.functional.plugins.marker:Marker"}


def registered(where: Path) -> dict[str, str]:
    """Write the plugin's metadata under ``where``; the environment a subprocess needs to see it."""
    info = where / "opsflow_test_plugins-0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: opsflow-test-plugins\nVersion: 0\n")
    lines = "".join(f"{name} = {target}\n" for name, target in ENTRY_POINTS.items())
    (info / "entry_points.txt").write_text(f"[opsflow.tasks]\n{lines}")
    root = Path(__file__).resolve().parents[3]
    paths = [str(where), str(root), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
