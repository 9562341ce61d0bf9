"""Ctrl-C during ``opsflow run``, ``resume`` and ``revert``: suspend cleanly, or on a second one, abandon.

The first SIGINT asks the runner to stop (:meth:`~opsflow.engines.runner.Runner.interrupt`): no
task starts any more, the tasks in flight finish and are recorded, and the run is left SUSPENDED,
resumable. A second SIGINT abandons the tasks in flight: the process exits 130 at once, the run
stays RUNNING, and ``opsflow resume`` runs those tasks again (each is safe to run twice).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType
from typing import Any

from opsflow.engines.runner import Runner

__all__ = ["Interrupts"]

#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED = 130


class Interrupts:
    """Installs the two-step SIGINT handler for the body; ``count`` says how many arrived."""

    def __init__(self, runner: Runner) -> None:
        self._runner = runner
        self.count = 0
        self._previous: Any = None

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, _signum: int, _frame: FrameType | None) -> None:
        self.count += 1
        running = self._runner.running()
        which = f"run {running[0]}" if running else "the run"
        if self.count == 1:
            _say(f"interrupted: {which} starts no more tasks; the tasks in flight finish and are recorded "
                 f"(Ctrl-C again abandons them)")
            # Suspending writes the run's state: never from the handler, which may have interrupted
            # the very thread holding the store's lock.
            threading.Thread(target=self._runner.interrupt, name="opsflow-interrupt", daemon=True).start()
            return
        resume = f"`opsflow resume {running[0]}`" if running else "`opsflow resume RUN`"
        _say(f"abandoning the tasks in flight of {which}; {resume} runs them again")
        os._exit(INTERRUPTED)  # worker threads still run those tasks: do not wait for them


def _say(text: str) -> None:
    try:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
    except OSError:
        pass
