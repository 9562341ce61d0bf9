"""Which project (and user) submitted each job: one ZooKeeper node per fact, beside the jobboard.

A job posted through the API belongs to the submitter's project. The fact is kept as the *name*
of an empty node under ``<root>/owners`` (``<run>~<project>~<user>``), the way the jobboard keeps
holds, so one ``get_children`` tells the owner of every job on the board and no write can ever
change an owner later. It outlives the job's stay on the board, so a finished job is still only
its project's to read.

A child run of a batch has no node of its own: it belongs to its parent's project, found through
the run's stored parent link once and remembered (the link never changes). Jobs submitted outside
the API (``opsflow submit``) belong to no project: only an admin sees them.
"""

from __future__ import annotations

import dataclasses
import threading

from kazoo import exceptions as k_exc

from opsflow.engines.jobboard import JobBoard
from opsflow.engines.runner import Runner
from opsflow.errors import BackendUnavailable, FlowNotFound

__all__ = ["Owner", "Owners"]


@dataclasses.dataclass(frozen=True)
class Owner:
    """Who submitted a job."""

    #: The Keystone project the job belongs to.
    project_id: str
    #: The Keystone user who submitted it.
    user_id: str

    #: Separator inside an owner node's name (never part of a uuid or a Keystone id).
    SEPARATOR = "~"


class Owners:
    """The owner facts under one jobboard's root."""

    #: Child folder of the jobboard's root.
    FOLDER = "owners"
    #: Parent links followed at most (a child of a child of ...).
    MAX_DEPTH = 8

    def __init__(self, board: JobBoard, runner: Runner) -> None:
        self._client = board.client
        self._runner = runner
        self._path = f"{board.address.root}/{self.FOLDER}"
        self._client.ensure_path(self._path)
        #: Run id -> parent run id (None: no parent), read once per run: stored links never change.
        self._parents: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def record(self, run_id: str, owner: Owner) -> None:
        """Remember that ``owner`` submitted ``run_id`` (safe to repeat)."""
        node = Owner.SEPARATOR.join((run_id, owner.project_id, owner.user_id))
        try:
            self._client.create(f"{self._path}/{node}")
        except k_exc.NodeExistsError:
            pass
        except k_exc.KazooException as exc:
            raise BackendUnavailable(f"cannot record the owner of job {run_id} at ZooKeeper: {exc}") from exc

    def all(self) -> dict[str, Owner]:
        """Run id -> owner of every job submitted through the API (one round trip)."""
        try:
            names = self._client.get_children(self._path)
        except k_exc.KazooException as exc:
            raise BackendUnavailable(f"cannot list job owners at ZooKeeper: {exc}") from exc
        found = {}
        for name in names:
            parts = name.split(Owner.SEPARATOR)
            if len(parts) == 3:
                found[parts[0]] = Owner(parts[1], parts[2])
        return found

    def of(self, run_id: str, known: dict[str, Owner] | None = None) -> Owner | None:
        """The owner of ``run_id``: its own, or its nearest ancestor's; None for nobody's."""
        known = self.all() if known is None else known
        current: str | None = run_id
        for _ in range(self.MAX_DEPTH):
            if current is None:
                return None
            if current in known:
                return known[current]
            current = self._parent(current)
        return None

    def _parent(self, run_id: str) -> str | None:
        with self._lock:
            if run_id in self._parents:
                return self._parents[run_id]
        try:
            record = self._runner.record(run_id)
        except FlowNotFound:
            return None  # not stored (yet): ask again next time
        parent = record.parent.run_id if record.parent is not None else None
        with self._lock:
            self._parents[run_id] = parent
        return parent
