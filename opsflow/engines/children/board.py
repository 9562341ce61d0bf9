"""Child runs in the distributed mode: each child a job on the jobboard, so every conductor shares a batch.

The parent is held ``waiting`` like any durable wait -- no conductor slot, no thread -- and is
woken when its batch is over. What a batch has done is kept as facts in ZooKeeper, one node each,
that no stale writer can erase, beside the jobs::

    <root>/batches/<batch id>/started/<index>          created in one transaction with the child's job
    <root>/batches/<batch id>/ended/<index>~<state>    written by the conductor that finished the child
    <root>/batches/<batch id>/stop                     the parent is being reverted: start nothing more

Who does what, each step safe to repeat after a kill -9 anywhere:

* the parent's atom stores the children, then posts each lane's first child not ended (once: the
  ``started`` marker and the job are one transaction) and waits;
* the conductor that finishes a child (before consuming its job) writes its ``ended`` fact, posts
  the next child of its lane unless the batch stopped, and wakes the parent when the batch is over;
* the conductor that holds the parent waiting checks once more right after holding it, so a batch
  that ended meanwhile is not missed.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from kazoo import exceptions as k_exc
from kazoo.handlers.threading import KazooTimeoutError
from taskflow.persistence import base as tf_base

from opsflow.engines import records
from opsflow.engines.children.batch import Batch, ChildEnd, Progress
from opsflow.engines.children.listing import batches_of
from opsflow.engines.children.local import LocalChildren
from opsflow.engines.jobboard import Hold, HoldKind, JobBoard
from opsflow.engines.records import RunRecord, RunState
from opsflow.engines.run_meta import RunMeta
from opsflow.errors import BackendUnavailable
from opsflow.flows.model import FlowDefinition

if TYPE_CHECKING:
    from collections.abc import Mapping

    from opsflow.engines.runner import Runner

__all__ = ["BoardChildren"]

LOG = logging.getLogger(__name__)

#: Run states after which a child's conductor records it as ended.
_ENDED = {RunState.SUCCEEDED: ChildEnd.SUCCEEDED, RunState.REVERTED: ChildEnd.REVERTED,
          RunState.FAILED: ChildEnd.FAILED}


class BoardChildren:
    """Stores child runs like :class:`LocalChildren`, but starts them as jobs for any conductor."""

    #: Folder of batch facts under the board's root.
    FOLDER = "batches"
    #: Seconds between looks while a parent's revert waits for running children to stop.
    REVERT_POLL = 0.5

    def __init__(self, runner: Runner, backend: tf_base.Backend, board: JobBoard) -> None:
        self._runner = runner
        self._backend = backend
        self._board = board
        self._local = LocalChildren(runner, backend)

    # -- facts --------------------------------------------------------------------------------

    def _path(self, batch: Batch, *parts: str) -> str:
        return "/".join((self._board.address.root, self.FOLDER, batch.batch_id, *parts))

    def _names(self, path: str) -> list[str]:
        client = self._board.client
        with _mapped(path):
            try:
                client.sync(path)
                return list(client.get_children(path))
            except k_exc.NoNodeError:
                return []

    def _exists(self, path: str) -> bool:
        with _mapped(path):
            return self._board.client.exists(path) is not None

    def _fact(self, path: str) -> None:
        """Create the node ``path`` (and its folders); one that exists already is the same fact."""
        with _mapped(path):
            try:
                self._board.client.create(path, makepath=True)
            except k_exc.NodeExistsError:
                pass

    # -- what the atom asks -------------------------------------------------------------------

    def create(self, batch: Batch, definition: FlowDefinition, inputs: list[Mapping[str, Any]]) -> None:
        """Store the children not stored yet, as :class:`LocalChildren` does."""
        self._local.create(batch, definition, inputs)

    def progress(self, batch: Batch) -> Progress:
        """Ended and started children, from two listings (no run is read)."""
        ended = {}
        for name in self._names(self._path(batch, "ended")):
            index, _, state = name.partition("~")
            ended[int(index)] = ChildEnd(state)
        started = {int(name) for name in self._names(self._path(batch, "started"))}
        return Progress(ended, frozenset(started - set(ended)))

    def launch(self, batch: Batch, seen: Progress) -> None:
        """Post every lane's next child that may start and is not posted yet."""
        if batch.stops_on(seen.ended) or self._exists(self._path(batch, "stop")):
            return
        for head in batch.heads():
            following = next((index for index in batch.lane(head) if index not in seen.ended), None)
            if following is not None and following not in seen.running:
                self._post(batch, following)

    def _post(self, batch: Batch, index: int) -> None:
        run_id = batch.child_id(index)
        record = self._runner.record(run_id)
        if self._board.post_once(run_id, record.name, time.time(), self._path(batch, "started", str(index))):
            LOG.info("%s: posted child run %s (item %d) of run %s", batch.task, run_id, index, batch.parent)

    def result(self, batch: Batch, index: int, item: Any) -> dict[str, Any]:
        """The child's outcome, read from its stored run."""
        return self._local.result(batch, index, item)

    def revert(self, batch: Batch) -> None:
        """Stop the batch, have running children reverted by their conductors, then revert the rest here."""
        self._fact(self._path(batch, "stop"))
        seen = self.progress(batch)
        for index in seen.running:
            self._board.set_hold(Hold(batch.child_id(index), HoldKind.REVERT))
        while seen.running:
            LOG.info("%s: waiting for %d running child runs to revert", batch.task, len(seen.running))
            time.sleep(self.REVERT_POLL)
            seen = self.progress(batch)
        self._local.revert(batch)

    # -- what the conductor asks --------------------------------------------------------------

    def settled(self, record: RunRecord) -> None:
        """A job's run stopped: if it is a child that ended, record it, start its successor, wake its parent."""
        link = record.parent
        end = _ENDED.get(record.state)
        if link is None or end is None:
            return
        batch = next((b for b in self._parent_batches(link.run_id) if b.task == link.task), None)
        if batch is None:
            LOG.warning("child run %s: its parent %s has no batch %s", record.run_id, link.run_id, link.task)
            return
        self._fact(self._path(batch, "ended", f"{link.index}~{end.value}"))
        seen = self.progress(batch)
        self.launch(batch, seen)  # its lane's next child (and any lane a kill -9 left stalled)
        if batch.over(seen):
            self._wake(link.run_id)

    def held_waiting(self, record: RunRecord) -> None:
        """A run was just held waiting: wake it at once if a batch it waits on is over already."""
        if any(batch.task in record.waits and batch.over(self.progress(batch))
               for batch in self._parent_batches(record.run_id)):
            self._wake(record.run_id)

    def _wake(self, parent: str) -> None:
        hold = self._board.hold(parent)
        if hold is not None and hold.kind is HoldKind.WAITING:  # never lift an operator's request
            LOG.info("waking run %s: its child runs are over", parent)
            self._board.clear_hold(parent)

    def _parent_batches(self, run_id: str) -> Iterator[Batch]:
        detail = records.load_detail(self._backend, run_id, self._runner.state_url)[1]
        return iter(batches_of(run_id, RunMeta.of(detail.meta)))


@contextlib.contextmanager
def _mapped(path: str) -> Iterator[None]:
    """ZooKeeper trouble while reading or writing a batch fact, as BackendUnavailable (conductors retry it)."""
    try:
        yield
    except (k_exc.KazooException, KazooTimeoutError) as exc:
        raise BackendUnavailable(f"cannot reach the batch fact {path} in ZooKeeper: {exc.__class__.__name__} "
                                 f"{exc}; check that the ensemble is up") from exc
