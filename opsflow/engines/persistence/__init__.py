"""Where flow state lives: a TaskFlow persistence backend from a URL.

``fetch(url)`` accepts::

    sqlite:///abs/path/state.db[?synchronous=FULL]     one machine (opsflow's SQLite backend)
    zookeeper://127.0.0.1:2181,127.0.0.1:2182/chroot[?timeout=4&write_behind=false&flush_delay=0.05]
                                                      many machines (opsflow's ZooKeeper backend)
    memory://                                         tests (TaskFlow's in-process backend)

TaskFlow's own URI parsing drops a ZooKeeper URL's hosts and path (it falls back to localhost and
``/taskflow``, see TESTBED.md), so the configuration dict is built here. Both opsflow backends are
also registered as TaskFlow entry points (``opsflow-sqlite``, ``opsflow-zookeeper``) for code that
goes through ``taskflow.persistence.backends.fetch``.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

from opsflow.engines.persistence.impl_sqlite import SQLiteBackend
from opsflow.engines.persistence.impl_zookeeper import ZooKeeperBackend
from opsflow.errors import ConfigError, StorageUnavailable

__all__ = ["SQLiteBackend", "StorageUnavailable", "ZooKeeperBackend", "fetch"]

#: The URL forms ``fetch`` accepts, quoted in its errors.
ACCEPTED = (
    "sqlite:///abs/path/state.db, zookeeper://host:port[,host:port...]/chroot[?timeout=SECONDS], memory://"
)


def fetch(url: str, *, create: bool = True) -> Any:
    """Return a TaskFlow persistence backend for ``url`` (not yet connected).

    With ``create`` false, an SQLite file that does not exist is refused (:class:`StateNotFound`)
    when first used instead of being created empty: a mistyped ``--state`` must not list nothing.
    """
    parts = urllib.parse.urlsplit(url)
    options = dict(urllib.parse.parse_qsl(parts.query))
    if parts.scheme == "memory":
        from taskflow.persistence.backends import impl_memory

        return impl_memory.MemoryBackend({})
    if parts.scheme == "sqlite":
        if parts.netloc or not parts.path.startswith("/") or parts.path.endswith("/"):
            raise _bad(url, "an SQLite URL names an absolute file path after three slashes")
        # sqlite:////abs/file.db (SQLAlchemy's spelling of an absolute path) means the same file.
        path = Path("/" + urllib.parse.unquote(parts.path).lstrip("/"))
        if not create:
            return SQLiteBackend({"path": str(path), **options, "create": False})
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"cannot create the directory of the SQLite state file {path}: {exc}") from exc
        return SQLiteBackend({"path": str(path), **options})
    if parts.scheme == "zookeeper":
        if not parts.netloc:
            raise _bad(url, "a ZooKeeper URL names its host:port list")
        conf: dict[str, Any] = {"hosts": parts.netloc, "path": parts.path.rstrip("/") or "/opsflow", **options}
        if "timeout" in conf:
            try:
                conf["timeout"] = float(conf["timeout"])
            except ValueError:
                raise _bad(url, f"timeout={conf['timeout']!r} is not a number of seconds") from None
        return ZooKeeperBackend(conf)
    raise _bad(url, f"unknown scheme {parts.scheme!r}")


def _bad(url: str, reason: str) -> ConfigError:
    return ConfigError(f"cannot use state backend URL {url!r}: {reason}; accepted forms: {ACCEPTED}")
