"""What the API's handlers share for the life of the process: the jobboard, the run store, reclaim's
audit store, policy."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor

from taskflow.persistence import base as tf_base

from opsflow.api.ownership import Owners
from opsflow.api.policy import Enforcer
from opsflow.engines import persistence
from opsflow.engines.jobboard import Address, JobBoard
from opsflow.engines.runner import Runner
from opsflow.reclaim.audit import AuditStore, open_store

__all__ = ["Services"]


@dataclasses.dataclass
class Services:
    """One connection each to the jobboard and the run store, opened at start and shared by threads."""

    address: Address
    board: JobBoard
    runner: Runner
    #: The run store again, for reading stored definitions (graphs).
    backend: tf_base.Backend
    owners: Owners
    enforcer: Enforcer
    #: Reclaim's audit log and one-time facts, beside the runs.
    audit: AuditStore
    #: Keystone's URL, where the dashboard's sign-in form gets tokens ("" when it has none).
    auth_url: str = ""
    #: Threads reading a page's stored runs at once: each read waits on ZooKeeper round trips.
    readers: ThreadPoolExecutor = dataclasses.field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=Services.READERS, thread_name_prefix="opsflow-api-read"))

    #: How many stored runs are read at once.
    READERS = 8

    @classmethod
    def open(cls, address: Address, *, policy_file: str | None = None, auth_url: str = "") -> Services:
        """Connect to ZooKeeper at ``address``."""
        board = JobBoard(address)
        runner = Runner(address.state_url, max_workers=1)
        return cls(address, board, runner, persistence.fetch(address.state_url), Owners(board, runner),
                   Enforcer(policy_file), open_store(address.state_url), auth_url)

    def close(self) -> None:
        """Close every connection."""
        self.readers.shutdown()
        self.audit.close()
        self.board.close()
        self.runner.close()
        self.backend.close()
