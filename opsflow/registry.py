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
    point or it cannot be imported (the import error is logged; its traceback only at debug).
    """
    try:
        manager = stevedore.DriverManager(
            namespace, name, invoke_on_load=False, on_load_failure_callback=_log_failure
        )
    except stevedore_exc.NoMatches as exc:
        raise PluginNotFound(namespace, name, names(namespace)) from exc
    return manager.driver


def _log_failure(manager: Any, entrypoint: Any, exc: BaseException) -> None:
    LOG.warning("could not load plugin %r from %s: %s", entrypoint.name, entrypoint.value, exc)
    LOG.debug("traceback of the failed plugin load", exc_info=exc)
