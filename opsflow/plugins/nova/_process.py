"""What every nova process of the simulator does before and after it runs its services."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Sequence
from typing import Any

__all__ = ["run_until_signalled"]

LOG = logging.getLogger(__name__)


def run_until_signalled(services: Sequence[Any]) -> None:
    """Block until SIGTERM or SIGINT, then stop ``services`` (already started) in reverse order.

    nova's own launcher (cotyledon under the threading backend) forks a worker even for one
    service; running the services in this process saves a whole interpreter per service.
    """
    stop = threading.Event()

    def _on_signal(signum: int, _frame: Any) -> None:
        LOG.info("signal %d: stopping %d service(s)", signum, len(services))
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    while not stop.wait(3600):
        pass
    for service in reversed(services):
        try:
            service.stop()
        except Exception:  # one service failing to stop must not keep the others running
            LOG.exception("stopping %s failed", getattr(service, "host", service))
