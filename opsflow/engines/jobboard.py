"""Jobs in ZooKeeper: a TaskFlow ZooKeeper jobboard plus what opsflow's conductors need beside it.

Everything lives under one root (``/opsflow`` unless the address names another)::

    <root>/state           run state: opsflow's ZooKeeper persistence backend (a TaskFlow backend)
    <root>/jobs            TaskFlow's ZooKeeper jobboard: ``job0000000001`` nodes, ``.lock`` claims
    <root>/holds           why an unclaimed job must not be picked up yet, one node per held job
    <root>/conductors      one ephemeral node per live conductor, with the runs it holds

A job carries only its run id (and the run's name): the definition texts and inputs are stored
with the run in ``state`` by :meth:`opsflow.engines.runner.Runner.create`, so a conductor needs no
copy of the user's YAML. Claims are TaskFlow's: an ephemeral lock node, gone when the claiming
conductor's session ends (a ``kill -9`` included), after which any conductor may claim the job.

TaskFlow's jobboard checks each job's state with two round trips when iterating; a conductor that
scans often would pay that for every job on the board. Here one ``get_children`` of ``jobs`` tells
which jobs exist and which are claimed (lock nodes are siblings of their jobs), and one of
``holds`` tells which are held and why: the hold's kind and due time are spelt in the node's name
(``<run>~waiting~<due>``), so skipping a paused job or a 7-day wait costs no read at all and
survives every conductor restart.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import json
import logging
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from kazoo import exceptions as k_exc
from kazoo.client import KazooClient
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import KazooState
from kazoo.recipe.watchers import ChildrenWatch
from taskflow import exceptions as tf_exc
from taskflow.jobs import backends as tf_jobs, base as tf_jobs_base
from taskflow.jobs.backends import impl_zookeeper as tf_zk_jobs
from taskflow.persistence import models

from opsflow.errors import BackendUnavailable, ClaimConflict, ConfigError, FlowNotFound, LeaseLost

__all__ = ["Address", "Hold", "HoldKind", "JobBoard", "JobEntry"]

LOG = logging.getLogger(__name__)

#: How kazoo retries connecting: every half second at most. Its default backs off up to a minute,
#: so after a long outage a client would come back only after its session (and claims) expired.
RECONNECT = {"max_tries": -1, "delay": 0.1, "backoff": 2, "max_delay": 0.5}

#: Environment variable naming the ZooKeeper hosts (and optional root) of the distributed mode.
ZOOKEEPER_ENV = "OPSFLOW_ZOOKEEPER"


@dataclasses.dataclass(frozen=True)
class Address:
    """Where the distributed mode keeps everything: ``host:port[,host:port...][/root]``."""

    #: Comma-separated ``host:port`` list.
    hosts: str
    #: Root path of opsflow's nodes.
    root: str = "/opsflow"
    #: ZooKeeper session timeout in seconds: how long a dead conductor's claims outlive it.
    timeout: float = 4.0

    @classmethod
    def parse(cls, text: str, timeout: float = 4.0) -> Address:
        """Read ``HOSTS[/ROOT]`` (a leading ``zookeeper://`` is accepted too)."""
        text = text.strip().removeprefix("zookeeper://")
        hosts, _, root = text.partition("/")
        if not hosts or any(not part.rpartition(":")[2].isdigit() for part in hosts.split(",")):
            raise ConfigError(
                f"cannot use ZooKeeper address {text!r}: give host:port[,host:port...][/root], "
                f"e.g. 127.0.0.1:2181/opsflow (--zookeeper or ${ZOOKEEPER_ENV})"
            )
        if timeout <= 0:
            raise ConfigError(f"a ZooKeeper session timeout must be positive, not {timeout}")
        return cls(hosts, "/" + root.strip("/") if root.strip("/") else "/opsflow", timeout)

    @property
    def state_url(self) -> str:
        """The state URL runs use (opsflow's ZooKeeper persistence backend)."""
        query = urllib.parse.urlencode({"timeout": self.timeout})
        return f"zookeeper://{self.hosts}{self.root}/state?{query}"

    def __str__(self) -> str:
        return f"{self.hosts}{self.root}"


class HoldKind(enum.Enum):
    """Why a job stays on the board unclaimed, or what an operator asked of it."""

    #: Stopped by ``on_failure: pause``; only ``opsflow resume``/``revert``/``cancel`` release it.
    PAUSED = "paused"
    #: A revert failed or the run could not be driven at all; only an operator releases it.
    FAILED = "failed"
    #: In a durable wait; due at ``Hold.due`` (clock seconds) or on a signal.
    WAITING = "waiting"
    #: An operator asked for a revert; the next conductor to claim it reverts instead of resuming.
    REVERT = "revert"
    #: An operator cancelled it while it ran; its conductor stops it and takes it off the board.
    CANCEL = "cancel"


@dataclasses.dataclass(frozen=True)
class Hold:
    """One held job, as spelt in its node's name."""

    #: The run (and job) id.
    run_id: str
    #: Why it is held.
    kind: HoldKind
    #: When a waiting job is due (clock seconds), None for a signal-only wait and other kinds.
    due: float | None = None

    #: Separator inside a hold's node name (never part of a uuid or a float).
    SEPARATOR = "~"

    @property
    def node(self) -> str:
        """The node name that encodes this hold."""
        due = "" if self.due is None else repr(float(self.due))
        return self.SEPARATOR.join((self.run_id, self.kind.value, due))

    @classmethod
    def from_node(cls, name: str) -> Hold | None:
        """Parse a node name; None for a name this version does not understand."""
        try:
            run_id, kind, due = name.split(cls.SEPARATOR)
            return cls(run_id, HoldKind(kind), float(due) if due else None)
        except ValueError:
            return None

    def ready(self, now: float) -> bool:
        """Whether a conductor may claim the job now."""
        if self.kind in (HoldKind.REVERT, HoldKind.CANCEL):
            return True
        return self.kind is HoldKind.WAITING and self.due is not None and now >= self.due


@dataclasses.dataclass(frozen=True)
class JobEntry:
    """A job on the board."""

    #: TaskFlow's job uuid.
    job_id: str
    #: The run the job drives (its id is what operators type).
    run_id: str
    #: The run's (definition's) name.
    name: str
    #: The job node's name (``job0000000007``).
    node: str
    #: When it was submitted (epoch seconds, submitter's clock).
    submitted: float
    #: Whether a conductor holds the claim now.
    claimed: bool


class JobBoard:
    """The jobs, claims, holds and conductors under one :class:`Address`."""

    #: Child folders of the root (see the module docstring).
    JOBS, HOLDS, CONDUCTORS = "jobs", "holds", "conductors"
    #: Suffix TaskFlow gives a job's claim node.
    LOCK_SUFFIX = tf_zk_jobs.ZookeeperJobBoard.LOCK_POSTFIX

    def __init__(self, address: Address) -> None:
        self.address = address
        self._client = KazooClient(hosts=address.hosts, timeout=address.timeout, connection_retry=RECONNECT)
        try:
            self._client.start(timeout=max(address.timeout, 5.0))
        except KazooTimeoutError as exc:
            self._client.close()
            raise BackendUnavailable(
                f"cannot reach ZooKeeper at {address.hosts}: no server answered within "
                f"{max(address.timeout, 5.0):.0f} s; start one (python -m opsflow.services.zookeeper start "
                f"--dir DIR --port PORT) or fix --zookeeper/${ZOOKEEPER_ENV}"
            ) from exc
        self._jobs_path = f"{address.root}/{self.JOBS}"
        self._holds_path = f"{address.root}/{self.HOLDS}"
        self._conductors_path = f"{address.root}/{self.CONDUCTORS}"
        for path in (self._holds_path, self._conductors_path):
            self._client.ensure_path(path)
        # The version check sends ZooKeeper's `envi` four-letter word, which servers refuse unless
        # whitelisted; opsflow needs nothing newer than multi-op transactions (3.4), so skip it.
        conf = {"board": "zookeeper", "path": self._jobs_path, "check_compatible": False}
        self._board = tf_jobs.fetch("opsflow", conf, client=self._client, emit_notifications=False)
        try:
            self._board.connect()
        except tf_exc.JobFailure as exc:
            self.close()
            raise BackendUnavailable(f"cannot open the jobboard at {address}: {exc}") from exc
        self._entries: dict[str, JobEntry] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the board and end the session (every claim made through it lapses)."""
        try:
            self._board.close()
        finally:
            self._client.stop()
            self._client.close()

    def __enter__(self) -> JobBoard:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # -- listing ------------------------------------------------------------------------------

    def entries(self) -> list[JobEntry]:
        """Every job on the board, oldest first (one round trip plus one read per new job)."""
        with self._lock, self._mapped("list the jobs"):
            children = set(self.wait(self._client.get_children_async(self._jobs_path)))
            locks = {name.removesuffix(self.LOCK_SUFFIX) for name in children if name.endswith(self.LOCK_SUFFIX)}
            nodes = sorted(name for name in children if name.startswith(tf_zk_jobs.ZookeeperJobBoard.JOB_PREFIX)
                           and not name.endswith(self.LOCK_SUFFIX))
            new = [(name, self._client.get_async(f"{self._jobs_path}/{name}")) for name in nodes
                   if name not in self._entries]
            for name, pending in new:
                try:
                    data, _stat = self.wait(pending)
                except k_exc.NoNodeError:  # consumed meanwhile
                    continue
                entry = self._entry(name, data)
                if entry is not None:
                    self._entries[name] = entry
            for gone in set(self._entries) - set(nodes):
                del self._entries[gone]
            return [dataclasses.replace(self._entries[n], claimed=n in locks) for n in nodes if n in self._entries]

    def _entry(self, node: str, data: bytes) -> JobEntry | None:
        try:
            posting = json.loads(data)
            details = posting.get("details") or {}
            return JobEntry(posting["uuid"], details["run_id"], posting["name"], node,
                            float(details.get("submitted", 0.0)), False)
        except (ValueError, KeyError, TypeError):
            LOG.warning("job node %s/%s is not an opsflow job; ignoring it", self._jobs_path, node)
            return None

    def find(self, ref: str) -> JobEntry:
        """The job whose run id (or TaskFlow job id) is ``ref`` or starts with it; FlowNotFound if none."""
        entries = self.entries()
        exact = [e for e in entries if ref in (e.run_id, e.job_id)]
        matches = exact or [e for e in entries if e.run_id.startswith(ref) or e.job_id.startswith(ref)]
        if len(matches) != 1:
            where = f"the jobboard at {self.address}" + (f" ({len(matches)} jobs match)" if matches else "")
            raise FlowNotFound(ref, where, kind="job", listing="opsflow jobs list")
        return matches[0]

    def owner(self, entry: JobEntry) -> str | None:
        """The conductor holding the claim, if any."""
        with self._mapped(f"read the claim of job {entry.run_id}"):
            try:
                lock = f"{self._jobs_path}/{entry.node}{self.LOCK_SUFFIX}"
                data, _stat = self.wait(self._client.get_async(lock))
            except k_exc.NoNodeError:
                return None
        owner = json.loads(data).get("owner")
        return str(owner) if owner is not None else None

    # -- posting and claims (TaskFlow's jobboard) -----------------------------------------------

    def post(self, run_id: str, name: str, submitted: float) -> str:
        """Post a job for a stored run; returns TaskFlow's job id."""
        book = models.LogBook(name, uuid=run_id)
        with self._mapped(f"post a job for run {run_id}"):
            job = self._board.post(name, book=book, details={"run_id": run_id, "submitted": submitted})
        return str(job.uuid)

    def post_once(self, run_id: str, name: str, submitted: float, marker: str) -> bool:
        """Post a job for a stored run unless the ZooKeeper node ``marker`` exists; True if posted.

        The marker and the job node (in TaskFlow's format) are created in one transaction, so
        however many processes try -- a child run's lane successor posted by whoever finished its
        predecessor, and again after a kill -9 -- one job is posted, never two.
        """
        book = models.LogBook(name, uuid=run_id)
        posting = tf_jobs_base.format_posting(str(uuid.uuid4()), name, book=book,
                                              details={"run_id": run_id, "submitted": submitted})
        with self._mapped(f"post a job for run {run_id}"):
            self._client.ensure_path(marker.rsplit("/", 1)[0])
            txn = self._client.transaction()
            txn.create(marker)
            txn.create(f"{self._jobs_path}/{tf_zk_jobs.ZookeeperJobBoard.JOB_PREFIX}",
                       json.dumps(posting).encode(), sequence=True)
            results = self.wait(txn.commit_async())
        return not any(isinstance(result, Exception) for result in results)

    @property
    def client(self) -> KazooClient:
        """The board's ZooKeeper client, for facts kept beside the jobs (child runs' batches)."""
        return self._client

    def claim(self, entry: JobEntry, who: str) -> None:
        """Claim a job for ``who``; ClaimConflict if someone else has it or it is gone."""
        try:
            with self._mapped(f"claim job {entry.run_id}"):
                self._board.claim(self._job(entry), who)
        except (tf_exc.UnclaimableJob, tf_exc.NotFound) as exc:
            raise ClaimConflict(f"job {entry.run_id} cannot be claimed: {exc}") from exc

    def abandon(self, entry: JobEntry, who: str) -> None:
        """Give a claim back; the job stays on the board."""
        with self._mapped(f"abandon job {entry.run_id}"):
            self._board.abandon(self._job(entry), who)

    def consume(self, entry: JobEntry, who: str) -> None:
        """Remove a finished job (held by ``who``) from the board, with its hold."""
        with self._mapped(f"consume job {entry.run_id}"):
            self._board.consume(self._job(entry), who)
        self.clear_hold(entry.run_id)

    def trash(self, entry: JobEntry, who: str) -> None:
        """Move a job (held by ``who``) to TaskFlow's trash folder, with its hold removed."""
        with self._mapped(f"cancel job {entry.run_id}"):
            self._board.trash(self._job(entry), who)
        self.clear_hold(entry.run_id)

    def _job(self, entry: JobEntry) -> Any:
        path = f"{self._jobs_path}/{entry.node}"
        # TaskFlow's board refuses jobs its own watch has not loaded yet; ours may be a moment ahead.
        deadline = time.monotonic() + 2.0
        while path not in self._board._known_jobs and time.monotonic() < deadline:
            time.sleep(0.005)
        return tf_zk_jobs.ZookeeperJob(self._board, entry.name, self._client, path, uuid=entry.job_id,
                                       details={"run_id": entry.run_id},
                                       book_data={"name": entry.name, "uuid": entry.run_id})

    # -- holds --------------------------------------------------------------------------------

    def holds(self) -> dict[str, Hold]:
        """Every held job by run id (one round trip)."""
        with self._mapped("list held jobs"):
            names = self.wait(self._client.get_children_async(self._holds_path))
        found = {}
        for name in names:
            hold = Hold.from_node(name)
            if hold is not None:
                found[hold.run_id] = hold
        return found

    def hold(self, run_id: str) -> Hold | None:
        """The hold on one job, if any."""
        return self.holds().get(run_id)

    def set_hold(self, hold: Hold, reason: str = "", fence: tuple[str, int] | None = None) -> None:
        """Replace whatever hold the job had by ``hold`` (one transaction).

        ``reason`` (why a job is held ``failed``) is kept as the hold node's data, for ``jobs show``.
        With a ``fence`` -- the run's lease node and the version its owner took it at -- the hold is
        set only while that owner still holds the run: a conductor that lost it (SIGSTOPped past
        its session) cannot replace the new owner's hold by its stale one (LeaseLost).
        """
        with self._mapped(f"hold job {hold.run_id}"):
            txn = self._client.transaction()
            if fence is not None:
                txn.check(*fence)
            for old in self._hold_nodes(hold.run_id):
                if old != hold.node:
                    txn.delete(f"{self._holds_path}/{old}")
            if hold.node not in self._hold_nodes(hold.run_id):
                txn.create(f"{self._holds_path}/{hold.node}", reason.encode())
            results = self.wait(txn.commit_async())
        failures = [r for r in results if isinstance(r, Exception)]
        if fence is not None and results and isinstance(results[0], (k_exc.BadVersionError, k_exc.NoNodeError)):
            raise LeaseLost(hold.run_id, "its hold not set: another owner took the run over")
        if failures:  # an operator changed it meanwhile: try once more on the fresh state
            LOG.info("hold on %s changed concurrently (%s); retrying", hold.run_id, failures[0])
            self.set_hold(hold, reason, fence)

    def hold_reason(self, run_id: str) -> str | None:
        """Why the job is held, as its holder wrote it (a failed job's error), if it said."""
        with self._mapped(f"read the hold of job {run_id}"):
            for name in self._hold_nodes(run_id):
                try:
                    data, _stat = self.wait(self._client.get_async(f"{self._holds_path}/{name}"))
                except k_exc.NoNodeError:
                    continue
                return data.decode() or None
        return None

    def clear_hold(self, run_id: str) -> None:
        """Remove the job's hold, if any (safe to repeat)."""
        self.clear_holds([run_id])

    def clear_holds(self, run_ids: Sequence[str]) -> None:
        """Remove these jobs' holds, if any, in one listing and one round of deletes (safe to repeat)."""
        wanted = set(run_ids)
        what = f"release job {run_ids[0]}" if len(run_ids) == 1 else f"release {len(run_ids)} jobs"
        with self._mapped(what):
            names = self.wait(self._client.get_children_async(self._holds_path))
            pending = [self._client.delete_async(f"{self._holds_path}/{name}") for name in names
                       if name.split(Hold.SEPARATOR, 1)[0] in wanted]
            for reply in pending:
                try:
                    self.wait(reply)
                except k_exc.NoNodeError:
                    pass

    def wait(self, pending: Any) -> Any:
        """A request's reply, waiting at most one session timeout.

        kazoo's blocking calls wait for as long as the client is reconnecting -- forever if
        ZooKeeper is down -- and a conductor asked to stop must not hang in one.
        """
        return pending.get(timeout=self.address.timeout)

    def _hold_nodes(self, run_id: str) -> list[str]:
        prefix = run_id + Hold.SEPARATOR
        names = self.wait(self._client.get_children_async(self._holds_path))
        return [name for name in names if name.startswith(prefix)]

    # -- conductors ---------------------------------------------------------------------------

    def register(self, name: str, info: dict[str, Any]) -> None:
        """Publish (or update) a live conductor's ephemeral node."""
        path = f"{self._conductors_path}/{name}"
        payload = json.dumps(info).encode()
        with self._mapped(f"register conductor {name}"):
            try:
                self.wait(self._client.set_async(path, payload))
            except k_exc.NoNodeError:
                self.wait(self._client.create_async(path, payload, ephemeral=True))

    def conductors(self) -> dict[str, dict[str, Any]]:
        """Live conductors and what each published (running jobs, capacity)."""
        with self._mapped("list conductors"):
            found = {}
            for name in self._client.get_children(self._conductors_path):
                try:
                    data, _stat = self.wait(self._client.get_async(f"{self._conductors_path}/{name}"))
                except k_exc.NoNodeError:
                    continue
                found[name] = json.loads(data)
        return found

    # -- watching -----------------------------------------------------------------------------

    def watch(self, changed: Callable[[], None]) -> None:
        """Call ``changed`` (from a ZooKeeper thread) whenever jobs, claims or holds change."""
        for path in (self._jobs_path, self._holds_path):
            ChildrenWatch(self._client, path, lambda _children: changed())

    def on_connection(self, suspended: Callable[[bool], None]) -> None:
        """Call ``suspended(True)`` when the connection is SUSPENDED or lost, ``suspended(False)`` once back."""

        def listener(state: KazooState) -> None:
            suspended(state != KazooState.CONNECTED)

        self._client.add_listener(listener)

    def on_session_lost(self, lost: Callable[[], None]) -> None:
        """Call ``lost`` when the session expires: every claim made through this board is gone."""

        def listener(state: KazooState) -> None:
            if state == KazooState.LOST:
                lost()

        self._client.add_listener(listener)

    @contextlib.contextmanager
    def _mapped(self, what: str) -> Iterator[None]:
        """Turn ZooKeeper and jobboard failures into BackendUnavailable naming the address."""
        try:
            yield
        except (tf_exc.UnclaimableJob, tf_exc.NotFound):
            raise
        except (k_exc.KazooException, KazooTimeoutError, tf_exc.JobFailure) as exc:
            raise BackendUnavailable(
                f"cannot {what} at ZooKeeper {self.address}: {exc.__class__.__name__} {exc}; "
                f"check that the ensemble is up and reachable"
            ) from exc


def iter_due(holds: dict[str, Hold]) -> Iterator[float]:
    """Due times of waiting holds (for working out when to look again)."""
    return (h.due for h in holds.values() if h.kind is HoldKind.WAITING and h.due is not None)
