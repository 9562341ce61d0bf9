"""Connections to OpenStack clouds by their ``clouds.yaml`` name, and the one place their errors are mapped.

Actions take cloud *names* (``devcloud-source``, ``prod-admin``), never connection objects, so a run
stored in ZooKeeper can be resumed by any conductor that has the same ``clouds.yaml``. A process
keeps one authenticated connection per cloud (and per project it acts in) and shares it between its
worker threads: a keystoneauth session is thread-safe, and re-authenticating for every task would
cost Keystone more than the work itself.

A run whose ``limits`` say ``api_calls_per_second: N`` (:attr:`~opsflow.tasks.base.RunContext.limits`)
sends each cloud at most N requests a second from all its actions together -- and, under conductors,
from every conductor running a run with the same limit (:mod:`opsflow.tasks.slots` paces them; keystone
token requests count too). The pace applies to the requests an action makes while it runs: every
session request checks the rate of the action on its thread, so connections stay shared.

openstacksdk and keystoneauth raise their own exception trees; :func:`errors` turns them into
:class:`~opsflow.errors.CloudError` subclasses whose one line names the cloud, what was being done
and the fix. Everything that talks to a cloud goes through it (actions through
:class:`CloudAction`), so the mapping is written once.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import openstack
from keystoneauth1 import exceptions as ks_exc
from openstack import connection as sdk_connection, exceptions as sdk_exc

from opsflow.errors import ActionFailed, CloudError, CloudNotFound, CloudUnreachable
from opsflow.tasks import slots
from opsflow.tasks.base import Action

__all__ = [
    "API_CALLS",
    "CloudAction",
    "connect",
    "errors",
    "find_one",
    "forget",
    "is_admin",
    "paced_calls",
    "project_connection",
    "short_tag",
]

LOG = logging.getLogger(__name__)

_T = TypeVar("_T")

_lock = threading.Lock()
_connections: dict[tuple[str, str], sdk_connection.Connection] = {}

#: The key of a run's ``limits`` that paces its requests: at most this many a second to each cloud.
API_CALLS = "api_calls_per_second"

#: Requests a second allowed to the action running in this context (None: unpaced).
_calls_per_second: contextvars.ContextVar[float | None] = contextvars.ContextVar("opsflow_api_calls_per_second",
                                                                                  default=None)

#: keystoneauth failures that mean "nothing answered there" rather than "it said no".
_UNREACHABLE = (ks_exc.ConnectFailure, ks_exc.ConnectTimeout, ks_exc.DiscoveryFailure, ks_exc.EndpointNotFound)


def _config_files() -> str:
    given = os.environ.get("OS_CLIENT_CONFIG_FILE")
    if given:
        return given
    return "./clouds.yaml, ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml"


@contextlib.contextmanager
def errors(cloud: str, doing: str) -> Iterator[None]:
    """Map openstacksdk/keystoneauth errors raised inside the block to :class:`CloudError` (``from`` them)."""
    try:
        yield
    except CloudError:
        raise
    except sdk_exc.ConfigException as exc:
        raise CloudNotFound(
            cloud, f"no cloud {cloud!r} in clouds.yaml ({_config_files()}): {exc}; "
            f"check the name or point OS_CLIENT_CONFIG_FILE at the file that has it") from exc
    except _UNREACHABLE as exc:
        raise CloudUnreachable(
            cloud, f"cloud {cloud!r} cannot be reached while {doing}: {exc}; "
            f"check that its auth_url and endpoints in clouds.yaml are up") from exc
    except (ks_exc.Unauthorized, sdk_exc.HttpException) as exc:
        status = getattr(exc, "status_code", None) or getattr(exc, "http_status", None)
        if status == 401 or isinstance(exc, ks_exc.Unauthorized):
            raise CloudUnreachable(
                cloud, f"cloud {cloud!r} refused the credentials in clouds.yaml while {doing}; "
                f"fix its auth section") from exc
        raise CloudError(cloud, f"cloud {cloud!r} failed while {doing}: {_reason(exc)}", status=status) from exc
    except (sdk_exc.SDKException, ks_exc.ClientException) as exc:
        if any(isinstance(cause, _UNREACHABLE) for cause in _causes(exc)):  # sdk wraps some of them
            raise CloudUnreachable(
                cloud, f"cloud {cloud!r} cannot be reached while {doing}: {_reason(exc)}; "
                f"check that its auth_url and endpoints in clouds.yaml are up") from exc
        raise CloudError(cloud, f"cloud {cloud!r} failed while {doing}: {_reason(exc)}") from exc


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = exc.__cause__ or exc.__context__
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def _reason(exc: BaseException) -> str:
    details = getattr(exc, "details", None)
    text = str(details or exc).strip().replace("\n", " ")
    return text[:500]


@contextlib.contextmanager
def paced_calls(limits: Mapping[str, Any]) -> Iterator[None]:
    """Pace the requests made inside the block by ``limits[API_CALLS]`` (a number > 0; absent: unpaced)."""
    per_second = limits.get(API_CALLS)
    if per_second is None:
        yield
        return
    if isinstance(per_second, bool) or not isinstance(per_second, (int, float)) or per_second <= 0:
        raise ActionFailed(f"limits.{API_CALLS}: {per_second!r}; give a number of requests a second above 0")
    token = _calls_per_second.set(float(per_second))
    try:
        yield
    finally:
        _calls_per_second.reset(token)


def _pace(cloud: str, conn: sdk_connection.Connection) -> None:
    """Make every request of ``conn``'s session wait for the calling action's rate, if it has one."""
    session: Any = conn.session
    request = session.request

    def paced(*args: Any, **kwargs: Any) -> Any:
        per_second = _calls_per_second.get()
        if per_second is not None:
            slots.pace([slots.Rate(f"api/{cloud}", per_second)], 1)
        return request(*args, **kwargs)

    session.request = paced


def connect(cloud: str) -> sdk_connection.Connection:
    """The connection to ``cloud`` (a ``clouds.yaml`` name), authenticated once per process."""
    return _cached(cloud, "")


def project_connection(cloud: str, project_id: str) -> sdk_connection.Connection:
    """A connection to ``cloud`` acting in ``project_id``: the cloud's own when it is scoped there already.

    An operator's admin cloud is scoped to its admin project; a migrated server must be created in
    its owner's project, so the same credentials are rescoped (``connect_as_project``).
    """
    conn = connect(cloud)
    if not project_id or conn.current_project_id == project_id:
        return conn
    return _cached(cloud, project_id)


def _cached(cloud: str, project_id: str) -> sdk_connection.Connection:
    key = (cloud, project_id)
    with _lock:
        conn = _connections.get(key)
    if conn is not None:
        return conn
    with errors(cloud, "connecting"):
        if project_id:
            conn = connect(cloud).connect_as(project_id=project_id)  # connect_as_project(str) takes a *name*
        else:
            conn = openstack.connect(cloud=cloud)
        _pace(cloud, conn)
        conn.authorize()  # fail here, naming the cloud, rather than in the middle of a task
    with _lock:
        return _connections.setdefault(key, conn)


def forget(cloud: str | None = None) -> None:
    """Drop cached connections (of one cloud, or all), e.g. after clouds.yaml changed."""
    with _lock:
        keys = [key for key in _connections if cloud in (None, key[0])]
        dropped = [_connections.pop(key) for key in keys]
    for conn in dropped:
        with contextlib.suppress(Exception):
            conn.close()


def find_one(finder: Callable[..., _T], name_or_id: str, **kwargs: Any) -> _T | None:
    """``finder(name_or_id)`` (an sdk ``find_*`` or ``get_*``) or None when there is none.

    sdk 4 deprecates the ``find_*`` default ``ignore_missing=True``, and ``get_*`` take no such
    argument; both raise NotFoundException when told to, which is what this turns into None.
    """
    if getattr(finder, "__name__", "").startswith("find_"):
        kwargs["ignore_missing"] = False
    try:
        return finder(name_or_id, **kwargs)
    except sdk_exc.NotFoundException:
        return None


def is_admin(conn: sdk_connection.Connection) -> bool:
    """True when the connection's token carries the admin role (it may see every project)."""
    with errors(conn.config.name, "reading its token's roles"):
        access: Any = conn.session.auth.get_access(conn.session)  # type: ignore[union-attr]
        return "admin" in (access.role_names or [])


def short_tag(tag: str) -> str:
    """A digest of a run's task tag short enough for Nova tags and resource names (Nova caps tags at 60)."""
    return "opsflow-" + hashlib.sha256(tag.encode()).hexdigest()[:20]


class CloudAction(Action):
    """An action that talks to clouds: its ``execute`` and ``revert`` run inside :func:`errors`.

    Subclasses set :attr:`doing` (a phrase: "reading the server") used in the mapped error line;
    the cloud named is the action's ``cloud`` argument, else ``source_cloud``.
    """

    #: What the action does, for error lines.
    doing = "acting"

    def first_look(self, key: str, existed: bool) -> bool:
        """Whether ``key`` existed when this task first looked, kept in the task's durable memory.

        The first try records what it found before it makes anything; every later try, and the
        revert, read that record back — so "delete only what this task created" holds even when a
        process died between creating a thing and storing the task's result. A revert of a task
        that never looked gets True (it made nothing).
        """
        remember = self.context.remember
        return bool(remember(f"existed:{key}", existed)) if remember is not None else existed

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for method in ("execute", "revert"):
            if method in cls.__dict__:
                setattr(cls, method, _mapped(cls.__dict__[method], cls.doing, method == "revert"))


def _mapped(func: Callable[..., Any], doing: str, reverting: bool) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        cloud = kwargs.get("cloud") or kwargs.get("destination_cloud") or kwargs.get("source_cloud") or "?"
        context = getattr(self, "context", None)
        with errors(str(cloud), ("undoing " if reverting else "") + doing), \
                paced_calls(context.limits if context is not None else {}):
            return func(self, *args, **kwargs)

    return wrapper
