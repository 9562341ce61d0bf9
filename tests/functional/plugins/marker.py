"""``test.marker``: makes a resource (a file) tagged with its run and task, then holds it a while.

The file's name is the tag ``<run>--<task path>``, as a cloud resource's tag or name would be; a
revert finds what any attempt made by that tag alone, and removes it. Each execution also appends
its task path to ``executions.log`` in the same folder, so a test counts executions there.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from opsflow.tasks.base import Action


class Marker(Action):
    """Create ``FOLDER/<run>--<task>``, sleep ``seconds``, return the file's path."""

    def _tag(self) -> str:
        return f"{self.context.run_id}--{self.context.task_path}"

    def execute(self, folder: str, seconds: float = 0.0) -> str:
        """Make the tagged file (adopting one an earlier attempt made), then hold for ``seconds``."""
        with (Path(folder) / "executions.log").open("a") as log:
            log.write(self.context.task_path + "\n")
        made = Path(folder) / self._tag()
        made.touch()
        time.sleep(seconds)
        return str(made)

    def revert(self, folder: str, seconds: float = 0.0, **kwargs: Any) -> None:
        """Remove whatever carries this run's and task's tag (safe to repeat)."""
        (Path(folder) / self._tag()).unlink(missing_ok=True)
