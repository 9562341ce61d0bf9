"""The options every command group shares: ``--state``, ``-f/--format`` with ``-c/--column``, ``--zookeeper``.

One definition each, so ``opsflow flows list``, ``opsflow forklift report`` and ``opsflow jobs list``
spell, default and explain them alike. No command lives here, and nothing here imports a command
module: each of them imports this one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import click

from opsflow import output
from opsflow.engines.jobboard import ZOOKEEPER_ENV

__all__ = ["STATE_ENV", "columns_option", "default_state_url", "format_option", "format_options", "state_option",
           "zookeeper_option"]

#: Environment variable naming the state backend URL.
STATE_ENV = "OPSFLOW_STATE"

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def default_state_url() -> str:
    """``$OPSFLOW_STATE``, else an SQLite file in the user's data directory."""
    if os.environ.get(STATE_ENV):
        return os.environ[STATE_ENV]
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return "sqlite:///" + os.path.join(data, "opsflow", "state.db")


def state_option(help_text: str = "State backend URL (sqlite:///PATH, zookeeper://HOSTS/PATH, memory://).") -> Decorator:
    """The ``--state URL`` option (default :func:`default_state_url`), as ``state_url``."""
    return click.option("--state", "state_url", default=default_state_url,
                        show_default=f"${STATE_ENV} or ~/.local/share/opsflow/state.db", help=help_text)


#: ``-f/--format table|json|value|...``, as ``fmt``.
format_option: Decorator = click.option("-f", "--format", "fmt", type=click.Choice(output.FORMATS), default="table",
                                        show_default=True, help="Output format.")
#: ``-c/--column NAME`` (repeatable), as ``columns``.
columns_option: Decorator = click.option("-c", "--column", "columns", multiple=True,
                                         help="Show only this column (repeatable).")


def format_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``-f/--format`` and ``-c/--column``: how a command that lists rows prints them."""
    return format_option(columns_option(func))


def zookeeper_option(purpose: str = "ZooKeeper hosts and root of the jobboard", **extra: Any) -> Decorator:
    """The ``--zookeeper HOSTS[/ROOT]`` option (default ``$OPSFLOW_ZOOKEEPER``), for every command that takes it."""
    return click.option("--zookeeper", "zookeeper", envvar=ZOOKEEPER_ENV, metavar="HOSTS[/ROOT]",
                        help=f"{purpose}, e.g. 127.0.0.1:2181/opsflow (default ${ZOOKEEPER_ENV}).", **extra)
