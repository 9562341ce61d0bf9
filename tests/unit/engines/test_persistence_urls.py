"""State URLs: what ``opsflow.engines.persistence.fetch`` accepts and how it refuses the rest."""

from __future__ import annotations

from pathlib import Path

import pytest
from taskflow.persistence.backends import impl_memory

from opsflow.engines import persistence
from opsflow.errors import BackendUnavailable, ConfigError
from opsflow.services.zookeeper import find_free_ports


def test_sqlite_url_names_an_absolute_file_and_creates_its_directory(tmp_path: Path) -> None:
    """``sqlite:///abs/path.db`` gives the SQLite backend on that file, its directory created."""
    backend = persistence.fetch(f"sqlite:///{tmp_path}/deep/er/state.db")
    assert isinstance(backend, persistence.SQLiteBackend)
    assert backend.path == tmp_path / "deep/er/state.db"
    assert backend.path.parent.is_dir()


def test_sqlite_url_passes_options(tmp_path: Path) -> None:
    """Query options reach the backend (``synchronous=FULL`` for power-loss safety)."""
    backend = persistence.fetch(f"sqlite:///{tmp_path}/s.db?synchronous=full")
    assert backend.synchronous == "FULL"


def test_zookeeper_url_keeps_hosts_chroot_and_timeout() -> None:
    """A ZooKeeper URL's host list, path and timeout all reach the backend (TaskFlow drops them)."""
    backend = persistence.fetch("zookeeper://127.0.0.1:2181,127.0.0.1:2182/some/chroot?timeout=4")
    assert isinstance(backend, persistence.ZooKeeperBackend)
    assert (backend.hosts, backend.root, backend.timeout) == ("127.0.0.1:2181,127.0.0.1:2182", "/some/chroot", 4.0)


def test_zookeeper_url_without_path_uses_opsflow_root() -> None:
    """Without a path the backend keeps its nodes under ``/opsflow``."""
    assert persistence.fetch("zookeeper://127.0.0.1:2181").root == "/opsflow"


def test_memory_url_gives_taskflows_memory_backend() -> None:
    """``memory://`` is TaskFlow's in-process backend."""
    assert isinstance(persistence.fetch("memory://"), impl_memory.MemoryBackend)


@pytest.mark.parametrize(
    "url",
    ["mysql://db/flows", "sqlite://relative.db", "sqlite:///", "zookeeper:///no-hosts", "zookeeper://h:1/p?timeout=soon"],
)
def test_bad_urls_name_the_url_and_the_accepted_forms(url: str) -> None:
    """A URL that cannot work is a configuration mistake, refused with the URL and the forms that would."""
    with pytest.raises(ConfigError) as raised:
        persistence.fetch(url)
    assert url in str(raised.value)
    assert "sqlite:///abs/path/state.db" in str(raised.value)


def test_unreachable_zookeeper_names_hosts_and_fix() -> None:
    """Connecting to a ZooKeeper that is not there raises BackendUnavailable naming the hosts."""
    hosts = f"127.0.0.1:{find_free_ports(1)}"
    backend = persistence.fetch(f"zookeeper://{hosts}/x?timeout=1")
    with pytest.raises(BackendUnavailable) as raised:
        backend.get_connection()
    assert hosts in str(raised.value)
    assert "opsflow.services.zookeeper" in str(raised.value)
