"""Connections to OpenStack clouds by their ``clouds.yaml`` name, and the one place their errors are mapped.

The minimal form of the agreed interface (forklift's branch owns the full module: cached project
connections, ``CloudAction``); disk transfer needs only :func:`connect` and :func:`errors`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import openstack
from keystoneauth1 import exceptions as ks_exc
from openstack import connection as sdk_connection
from openstack import exceptions as sdk_exc

from opsflow.errors import CloudError, CloudNotFound, CloudUnreachable

__all__ = ["connect", "errors"]

_lock = threading.Lock()
_connections: dict[str, sdk_connection.Connection] = {}
_UNREACHABLE = (ks_exc.ConnectFailure, ks_exc.ConnectTimeout, ks_exc.DiscoveryFailure, ks_exc.EndpointNotFound)


@contextlib.contextmanager
def errors(cloud: str, doing: str) -> Iterator[None]:
    """Map openstacksdk/keystoneauth errors raised inside the block to :class:`CloudError` (``from`` them)."""
    try:
        yield
    except sdk_exc.ConfigException as exc:
        raise CloudNotFound(cloud, f"no cloud {cloud!r} in clouds.yaml: {exc}; check the name or point "
                                   f"OS_CLIENT_CONFIG_FILE at the file that has it") from exc
    except _UNREACHABLE as exc:
        raise CloudUnreachable(cloud, f"cloud {cloud!r} cannot be reached while {doing}: {exc}") from exc
    except (sdk_exc.SDKException, ks_exc.ClientException) as exc:
        raise CloudError(cloud, f"cloud {cloud!r} failed while {doing}: {exc}") from exc


def connect(cloud: str) -> sdk_connection.Connection:
    """The connection to ``cloud`` (a ``clouds.yaml`` name), authenticated once per process."""
    with _lock:
        conn = _connections.get(cloud)
    if conn is None:
        with errors(cloud, "connecting"):
            conn = openstack.connect(cloud=cloud)
            conn.authorize()
        with _lock:
            conn = _connections.setdefault(cloud, conn)
    return conn
