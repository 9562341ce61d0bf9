"""Retention: finished runs lose their per-task detail after an age or beyond a count; a summary stays.

A stored run costs about 45 ZooKeeper nodes and 8 KiB for 20 tasks (the same in SQLite), and
nothing removed them: ZooKeeper's heap filled in time. :func:`prune` removes, for each run that
succeeded or was reverted and is older than ``Policy.older_than`` or beyond the newest
``Policy.keep``:

* its logbook, flow detail and atom details, its signals, and its child runs (with theirs);
* in distributed mode (a jobboard given): its job node if one is left unclaimed, its hold, and
  its batches' facts; and, whatever the policy, holds and unclaimed job nodes of runs that have
  ended or no longer exist (:func:`sweep_board`), so nothing is left for runs that are gone.

What stays is a summary (id, name, state, created, ended, pruned): one small row in SQLite, and in
ZooKeeper a thousand summaries to a node, so pruning keeps the node count flat. ``opsflow flows
list`` and ``show`` still show pruned runs, from their summary.

Failed runs (a revert that failed) are never pruned: they wait for an operator, who needs their
tasks. Child runs are pruned with their parent, never on their own (the parent may still gather or
revert them). Conductors prune by themselves (:class:`Pruner`: one at a time, through a :class:`Turn` node).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import threading
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from kazoo import exceptions as k_exc
from taskflow import exceptions as tf_exc
from taskflow.persistence import base as tf_base

from opsflow.engines import lease, records, signals
from opsflow.engines.children.listing import batches_of
from opsflow.engines.records import RunRecord, RunState
from opsflow.engines.run_meta import RunMeta
from opsflow.errors import BackendUnavailable, ClaimConflict, ConfigError, DamagedRecord, FlowNotFound, OpsflowError

if TYPE_CHECKING:
    from opsflow.engines.jobboard import JobBoard

__all__ = ["DEFAULT_EVERY", "DEFAULT_KEEP", "DEFAULT_OLDER_THAN", "PRUNABLE", "Policy", "Pruner", "Turn", "ended_at",
           "parse_duration", "prune", "summaries", "sweep_board"]

LOG = logging.getLogger(__name__)

#: Defaults of ``opsflow conductor`` and of ``opsflow flows prune`` without limits: a week, 1,000 runs.
DEFAULT_OLDER_THAN, DEFAULT_KEEP = 7 * 24 * 3600.0, 1000
#: Seconds between a conductor's prunes.
DEFAULT_EVERY = 600.0
#: States whose runs may be pruned (a failed run waits for an operator).
PRUNABLE = frozenset({RunState.SUCCEEDED, RunState.REVERTED})

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(text: str) -> float:
    """Seconds in ``90``, ``90s``, ``30m``, ``12h``, ``7d`` or ``2w``; ConfigError naming the forms otherwise."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text)
    if not match:
        raise ConfigError(f"cannot read the duration {text!r}: give a number with s, m, h, d or w, e.g. 7d or 12h")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


@dataclasses.dataclass(frozen=True)
class Policy:
    """Which finished runs lose their detail: those older than ``older_than`` or beyond the newest ``keep``."""

    #: Seconds since a run ended after which it is pruned; None: no age limit.
    older_than: float | None = DEFAULT_OLDER_THAN
    #: Finished runs kept with their detail, newest first; None: no count limit.
    keep: int | None = DEFAULT_KEEP

    def __post_init__(self) -> None:
        if self.older_than is not None and self.older_than < 0:
            raise ConfigError(f"a retention age must not be negative, not {self.older_than}")
        if self.keep is not None and self.keep < 0:
            raise ConfigError(f"a retention count must not be negative, not {self.keep}")

    def due(self, stored: Iterable[RunRecord], now: float) -> list[RunRecord]:
        """The runs this policy prunes now, newest first."""
        finished = sorted((r for r in stored if r.state in PRUNABLE and r.parent is None and r.pruned_at is None),
                          key=ended_at, reverse=True)
        return [r for rank, r in enumerate(finished)
                if (self.keep is not None and rank >= self.keep)
                or (self.older_than is not None and now - ended_at(r) >= self.older_than)]


def ended_at(record: RunRecord) -> float:
    """When a run ended: its tasks' latest finish (its creation if it ran none)."""
    if record.ended_at is not None:
        return record.ended_at
    return max((t.finished for t in record.tasks if t.finished is not None), default=record.created)


@runtime_checkable
class SummaryStore(Protocol):
    """What a backend offers to keep pruned runs' summaries (opsflow's SQLite and ZooKeeper)."""

    def save_summaries(self, summaries: list[dict[str, Any]]) -> None:
        """Store summaries (JSON objects with an ``id``)."""

    def summaries(self) -> list[dict[str, Any]]:
        """Every stored summary."""


def summaries(backend: tf_base.Backend) -> dict[str, RunRecord]:
    """Pruned runs by id, as records without tasks (empty for a backend that keeps none)."""
    if not isinstance(backend, SummaryStore):
        return {}
    found = {}
    for item in backend.summaries():
        try:
            record = RunRecord(run_id=str(item["id"]), name=str(item["name"]), state=RunState(item["state"]),
                               inputs={}, created=float(item["created"]), tasks=(), waits={},
                               pruned_at=float(item["pruned"]), ended_at=float(item["ended"]))
        except (KeyError, TypeError, ValueError):
            LOG.warning("a pruned run's summary is damaged: %r", item)
            continue
        found[record.run_id] = record
    return found


def _summary(record: RunRecord, now: float) -> dict[str, Any]:
    return {"id": record.run_id, "name": record.name, "state": record.state.value, "created": record.created,
            "ended": ended_at(record), "pruned": now}


def prune(backend: tf_base.Backend, where: str, stored: Sequence[RunRecord], policy: Policy, now: float, *,
          dry_run: bool = False, board: JobBoard | None = None) -> list[RunRecord]:
    """Prune what ``policy`` says among ``stored`` (records of ``backend``); return the pruned, newest first.

    With ``dry_run`` nothing changes. The summary is stored before anything is deleted, so a prune
    interrupted at any point leaves every run either whole or summarised (or both, harmlessly).
    """
    chosen = policy.due(stored, now)
    if dry_run:
        return chosen
    if chosen and isinstance(backend, SummaryStore):
        backend.save_summaries([_summary(record, now) for record in chosen])
    _destroy_runs(backend, where, [record.run_id for record in chosen], board)
    if leftovers := _half_pruned(backend, where):
        LOG.info("finishing %d prunes that were interrupted in %s", len(leftovers), where)
        _destroy_runs(backend, where, leftovers, board, cut_short=True)
    if board is not None:
        sweep_board(board, backend, where)
    if chosen:
        LOG.info("pruned %d finished runs from %s", len(chosen), where)
    return chosen


def _destroy_runs(backend: tf_base.Backend, where: str, run_ids: Sequence[str], board: JobBoard | None,
                  cut_short: bool = False) -> None:
    """Delete these runs' detail, signals and children (and their board facts); safe to repeat.

    A run that no longer decodes is refused (DamagedRecord: its children cannot be known), unless
    ``cut_short``: runs whose earlier prune was interrupted, their children deleted before them.

    Runs are loaded and their logbooks deleted a batch at a time (a backend that can: a few
    ZooKeeper round trips per batch, not several per run), so a prune of hundreds of runs on a
    busy ensemble takes seconds, not minutes.
    """
    for start in range(0, len(run_ids), records.LOAD_BATCH):
        batch = run_ids[start:start + records.LOAD_BATCH]
        for run_id, detail in records.load_many(backend, batch, where).items():
            if isinstance(detail, DamagedRecord) and not cut_short:
                raise detail
            if isinstance(detail, (FlowNotFound, DamagedRecord)):
                continue
            for child_batch in batches_of(run_id, RunMeta.of(detail.meta)):
                _destroy_runs(backend, where, [child_batch.child_id(i) for i in range(child_batch.count)], board)
                if board is not None:
                    _delete_tree(board, f"{board.address.root}/batches/{child_batch.batch_id}")
        _destroy_logbooks(backend, batch)
        signals.drop(backend, batch)
        if isinstance(backend, lease.LeaseStore):
            backend.drop_leases(batch)
        if board is not None:
            board.clear_holds(batch)


def _half_pruned(backend: tf_base.Backend, where: str) -> list[str]:
    """Runs summarised as pruned whose logbook is still (partly) stored: a prune cut short.

    Deleting a run's nodes takes several requests, children first; a ZooKeeper restart in the
    middle left a soak's logbook nodes without their flow details, which no listing shows as runs
    and so no later prune found (120 runs and their leases, 240 nodes, for good).
    """
    if not isinstance(backend, SummaryStore):
        return []
    stored = _stored(backend, where)
    if not stored:
        return []
    return sorted(stored.intersection(str(item.get("id")) for item in backend.summaries()))


def _destroy_logbooks(backend: tf_base.Backend, run_ids: Sequence[str]) -> None:
    """Delete these runs' logbooks, all at once where the backend can; one already gone is no error."""
    with records.connection(backend) as conn:
        bulk = getattr(conn, "destroy_logbooks", None)
        if bulk is not None:
            bulk(run_ids)
            return
        for run_id in run_ids:
            try:
                conn.destroy_logbook(run_id)
            except tf_exc.NotFound:
                pass


def _delete_tree(board: JobBoard, path: str) -> None:
    try:
        board.client.delete(path, recursive=True)
    except k_exc.NoNodeError:
        pass
    except k_exc.KazooException as exc:
        raise BackendUnavailable(f"cannot delete {path} at ZooKeeper {board.address}: {exc!r}") from exc


def sweep_board(board: JobBoard, backend: tf_base.Backend, where: str) -> int:
    """Remove holds and unclaimed job nodes of runs that have ended or are gone, and leases of runs
    that are gone; return how many.

    Holds are read before jobs: a hold read first whose job is not listed after has lost its job
    for good (jobs are posted before anything holds them). A lease outlives its pruned run when a
    holder still had it at the prune (a stopped conductor, until its session expired): nothing
    would remove it later. The stored runs are listed once, after the board and the leases are
    read, so a run is judged gone by one listing, not by loading each leased run's detail.
    """
    holds = board.holds()
    entries = board.entries()
    leases = backend.read_leases() if isinstance(backend, lease.LeaseStore) else {}
    stored = _stored(backend, where)
    removed = 0
    who = "opsflow-retention"
    for entry in entries:
        if entry.claimed or not _ended_or_gone(backend, where, entry.run_id, stored):
            continue
        try:
            board.claim(entry, who)
        except ClaimConflict:
            continue
        board.consume(entry, who)
        removed += 1
    posted = {entry.run_id for entry in entries}
    if orphan_holds := [run_id for run_id in holds if run_id not in posted]:
        board.clear_holds(orphan_holds)
        removed += len(orphan_holds)
    if isinstance(backend, lease.LeaseStore) and stored is not None and (orphans := sorted(leases.keys() - stored)):
        backend.drop_leases(orphans)  # each refused while a holder still has it
        removed += len(orphans) - len(backend.read_leases(orphans))
    return removed


def _stored(backend: tf_base.Backend, where: str) -> frozenset[str] | None:
    """Ids of the stored runs; None when they cannot be listed now (nothing is judged gone then)."""
    try:
        return frozenset(records.run_ids(backend))
    except OpsflowError as exc:  # unreachable: not ours to judge now
        LOG.warning("cannot list the runs in %s to sweep the board: %s", where, exc)
        return None


def _ended_or_gone(backend: tf_base.Backend, where: str, run_id: str, stored: frozenset[str] | None) -> bool:
    if stored is None:
        return False
    if run_id not in stored:
        return True
    try:
        return records.record_of(records.load_detail(backend, run_id, where)[1]).state in PRUNABLE
    except FlowNotFound:
        return True
    except OpsflowError:  # unreachable, or damaged: not ours to judge now
        return False


class Turn:
    """Whose turn it is to prune: one ephemeral node naming its holder; taking it never waits.

    kazoo's Lock recipe retries inside itself without a time limit (through reconnections and a
    session lost and renewed), and a soak saw a pruner hang there while its lock node lived on in
    its live session: every conductor's pruning stopped. Here each request waits one session
    timeout at most (:meth:`JobBoard.wait`), and a turn held past ``stale_after`` is taken over:
    pruning is safe to repeat, so two pruners at once cost work, never correctness.
    """

    #: The turn node under the board's root: absent while nobody prunes.
    NODE = "retention-turn"

    def __init__(self, board: JobBoard, who: str = "", stale_after: float = 60.0) -> None:
        self._board = board
        self.path = f"{board.address.root}/{self.NODE}"
        #: Written into the node, so that whoever holds the turn can be named.
        self.who = who or f"pid {os.getpid()}"
        #: Seconds after which a turn nobody gave back is another conductor's to take.
        self.stale_after = stale_after

    def take(self, now: float) -> bool:
        """Take the turn unless another holder has it and is not overdue; whether this one has it now."""
        client = self._board.client
        try:
            self._board.wait(client.create_async(self.path, self.who.encode(), ephemeral=True, makepath=True))
            return True
        except k_exc.NodeExistsError:
            pass
        try:
            data, found = self._board.wait(client.get_async(self.path))
        except k_exc.NoNodeError:  # given back meanwhile: the next period takes it
            return False
        if found.ephemeralOwner == self._session():  # ours still: a give-back lost with the connection
            return True
        held_for = now - found.ctime / 1000.0
        if held_for < self.stale_after:
            return False
        LOG.warning("the prune turn at %s has been held for %.0f s by %s; taking it over", self.path, held_for,
                    bytes(data).decode() or "an unnamed pruner")
        try:
            self._board.wait(client.delete_async(self.path, version=found.version))
            self._board.wait(client.create_async(self.path, self.who.encode(), ephemeral=True))
        except (k_exc.NoNodeError, k_exc.BadVersionError, k_exc.NodeExistsError):
            return False  # someone else was quicker
        return True

    def give_back(self) -> None:
        """End this pruner's turn, if it still has it (safe to repeat)."""
        found = self._board.wait(self._board.client.exists_async(self.path))
        if found is None or found.ephemeralOwner != self._session():
            return
        try:
            self._board.wait(self._board.client.delete_async(self.path, version=found.version))
        except (k_exc.NoNodeError, k_exc.BadVersionError):
            pass

    def holder(self) -> str | None:
        """Who has the turn now, as it named itself; None while nobody does."""
        try:
            data, _stat = self._board.wait(self._board.client.get_async(self.path))
        except k_exc.NoNodeError:
            return None
        return bytes(data).decode() or None

    def _session(self) -> int | None:
        client_id = self._board.client.client_id
        return None if client_id is None else int(client_id[0])


class Pruner:
    """A conductor's background prune: every ``every`` seconds, by one conductor at a time (a :class:`Turn`)."""

    def __init__(self, prune_once: Any, board: JobBoard, every: float = DEFAULT_EVERY, who: str = "",
                 stale_after: float | None = None) -> None:
        #: Called with no arguments to prune (the conductor's runner and policy bound in).
        self._prune_once = prune_once
        self.every = every
        #: A turn not given back for ten periods (at least a minute) is another conductor's.
        self.turn = Turn(board, who, stale_after if stale_after is not None else max(10 * every, 60.0))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start pruning in a daemon thread (no-op when ``every`` is 0)."""
        if self.every > 0:
            self._thread = threading.Thread(target=self._loop, name="opsflow-retention", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop, waiting for a prune in progress."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(60)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            started = time.monotonic()
            try:
                if not self.turn.take(time.time()):
                    continue  # another conductor prunes now
                try:
                    self._prune_once()
                finally:
                    self.turn.give_back()
            except Exception:  # a bad moment must not end the thread; the next period tries again
                LOG.exception("pruning finished runs failed")
            LOG.debug("retention pass took %.2f s", time.monotonic() - started)
