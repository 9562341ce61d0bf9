"""Find plugins through their entry points, with errors that list what is installed."""

from __future__ import annotations

import functools
import importlib.metadata
import logging
from typing import Any

import stevedore
from stevedore import exception as stevedore_exc

from opsflow.errors import PluginNotFound

__all__ = ["ACTIONS", "fetch", "names"]

LOG = logging.getLogger(__name__)

#: Entry-point namespace of actions: TaskFlow task classes usable as ``action:`` in a flow.
ACTIONS = "opsflow.tasks"


def names(namespace: str) -> list[str]:
    """Every name registered in ``namespace`` (loadable or not), sorted."""
    return sorted({ep.name for ep in importlib.metadata.entry_points(group=namespace)})


@functools.lru_cache(maxsize=None)
def fetch(namespace: str, name: str) -> Any:
    """The object the entry point ``name`` of ``namespace`` points at (not instantiated).

    Raises :class:`PluginNotFound` naming the installed alternatives when there is no such entry
    point, or saying "installed but failed to import: reason" when there is one that cannot be
    imported (its traceback is logged at debug).
    """
    failures: list[BaseException] = []

    def failed(manager: Any, entrypoint: Any, exc: BaseException) -> None:
        LOG.debug("could not load plugin %r from %s", entrypoint.name, entrypoint.value, exc_info=exc)
        failures.append(exc)

    try:
        manager = stevedore.DriverManager(namespace, name, invoke_on_load=False, on_load_failure_callback=failed)
    except stevedore_exc.NoMatches as exc:
        reason = f"{type(failures[0]).__name__}: {failures[0]}" if failures else None
        raise PluginNotFound(namespace, name, names(namespace), import_error=reason) from exc
    return manager.driver
