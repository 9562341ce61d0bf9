"""TaskFlow persistence in ZooKeeper, with one awaited round trip per finished task.

TaskFlow's own ZooKeeper backend costs ~14 ms per task: each of the ~4 atom updates per task
reads the node, decodes and merges it, asks ``exists`` and commits a one-operation transaction
(three round trips), and each flow state change does that again for every atom of the flow.
Here:

* an atom update is one ``set`` of the whole atom (``_codec`` explains why that equals TaskFlow's
  merge), so ``NoNodeError`` is the not-found check and nothing is read first;
* updates that only record work in flight -- entering RUNNING or REVERTING, or changing nothing
  but the progress in ``meta`` of an atom this backend already wrote -- are written behind: they
  return at once and go out batched with the next request (``_kazoo.Session``). Every other
  update, among them each SUCCESS/FAILURE/REVERTED with its result, waits for ZooKeeper's
  acknowledgement before returning, so the engine never moves on from a finished task before it
  is stored. ZooKeeper applies a session's requests in order, so that acknowledgement covers
  every write behind it too; a resumed flow re-runs at most the atoms that were in flight, as
  with any backend. A task's RUNNING mark is written behind from the engine's thread but waited
  for by the worker about to run the task (:meth:`ZooKeeperBackend.wait_stored`), so every task
  that acted is stored as started -- ``opsflow revert`` finds it after a kill -9 -- while the
  engine's thread waits for one round trip per task only. ``write_behind: false`` awaits every
  update;
* many-node operations (saving a flow's atoms, loading or deleting them) are pipelined: all
  requests are sent, then all replies awaited, instead of one round trip each; new atoms are
  created with their link in multi-op requests;
* an atom whose whole state equals what this backend last wrote is not written again when its
  flow detail is saved (TaskFlow re-saves every atom on each flow state change).

Layout under the configured ``path``: ``books/<uuid>`` (children link its flows),
``flows/<uuid>`` (children link its atoms), ``atoms/<uuid>``; every node holds JSON with the
name, so an update rewrites the name too (TaskFlow never renames a detail).

Leases (:mod:`opsflow.engines.lease`) are ``leases/<run>`` nodes holding the holder and a token
counted up by each new owner, with an ephemeral child ``owner`` made by the holder's session: the
lease lapses when that session ends. Once this backend took a run's lease, every write of the run
(flow detail and atoms, awaited or written behind) goes out in a multi-op that first checks the
lease node's version (see ``_kazoo``), so a process that lost the run cannot write over its new
owner; a lost session, or a failed check, marks the run's lease lost here too.

Configuration: ``{"hosts": "127.0.0.1:2181,...", "path": "/opsflow", "timeout": 10.0,
"write_behind": true, "flush_delay": 0.05}`` (``timeout`` is the session timeout in seconds, also
the connect limit; ``flush_delay`` how long a write behind may wait for company before it is sent
on its own).
"""

from __future__ import annotations

import collections
import dataclasses
import json
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from kazoo import exceptions as k_exc
from oslo_utils import strutils
from taskflow import exceptions as tf_exc
from taskflow import states
from taskflow import storage as tf_storage
from taskflow.persistence import base, models

from opsflow.engines.lease import Holder, LeaseRecord
from opsflow.engines.persistence import _codec, _zk_facts
from opsflow.engines.persistence._kazoo import MULTI_OPS, Fence, Session, Write
from opsflow.errors import ConfigError, LeaseLost, RunOwned, StorageUnavailable

__all__ = ["ZooKeeperBackend"]

#: Atom states a resumed flow treats like "not finished": their writes need not be awaited.
IN_FLIGHT_STATES = frozenset({states.RUNNING, states.REVERTING})
#: Meta keys TaskFlow updates to report progress: changing only these need not be awaited.
PROGRESS_KEYS = frozenset({tf_storage.META_PROGRESS, tf_storage.META_PROGRESS_DETAILS})
#: ZooKeeper refuses nodes above ~1 MB (jute.maxbuffer); fail clearly before it drops the session.
MAX_NODE_BYTES = 1_000_000


@dataclasses.dataclass(eq=False)
class _RunLease:
    """What a backend knows of the lease of one run it took or gave up."""

    #: The run (flow detail) uuid.
    run_id: str
    #: The lease node's path and version at taking: every write of the run checks it. None for a
    #: run given up without ever being taken here.
    fence: Fence | None = None
    #: Lost (session ended, a fenced write refused) or given up: the run's writes are refused until
    #: it is leased again, since an engine thread can still write after its owner let the run go.
    lost: bool = False
    #: Given up (released or lost): forgotten once enough newer runs were (see GIVEN_UP_REMEMBERED).
    given_up: bool = False
    #: Uuids of the run's atoms seen while it was leased: their writes are fenced by the run's lease.
    atoms: set[str] = dataclasses.field(default_factory=set)


class ZooKeeperBackend(base.Backend):  # type: ignore[misc]
    """A TaskFlow backend keeping logbooks, flow details and atom details in ZooKeeper."""

    def __init__(self, conf: dict[str, Any]) -> None:
        super().__init__(conf)
        self.hosts = str(self._conf.get("hosts") or "")
        if not self.hosts:
            raise ConfigError("the opsflow ZooKeeper backend needs 'hosts' (for example 127.0.0.1:2181)")
        self.root = "/" + str(self._conf.get("path") or "/opsflow").strip("/")
        self.timeout = float(self._conf.get("timeout", 10.0))
        self.write_behind = strutils.bool_from_string(self._conf.get("write_behind", True), default=True)
        try:
            self.flush_delay = float(self._conf.get("flush_delay", 0.05))
        except ValueError:
            raise ConfigError(f"the opsflow ZooKeeper backend's flush_delay={self._conf['flush_delay']!r} is not "
                              f"a number of seconds") from None
        self._lock = threading.Lock()
        self._session: Session | None = None
        #: atom uuid -> (hash of what must be awaited, hash of the whole node) as last sent.
        self.sent: dict[str, tuple[int, int]] = {}
        #: atom uuid -> its latest write sent behind and not waited for yet (see wait_stored).
        self.unstored: dict[str, Write] = {}
        #: Runs this backend leased or gave up, by run id, the most recently taken or given up last.
        self._leases: collections.OrderedDict[str, _RunLease] = collections.OrderedDict()
        #: The same records by the uuid of each atom they fence (an atom write knows no run).
        self._atom_leases: dict[str, _RunLease] = {}
        self.leases_path = f"{self.root}/leases"
        #: An ZooKeeper lease lives as long as the holder's session: one session timeout.
        self.lease_ttl = self.timeout
        #: Seconds a write waits out an outage before failing (see ``_kazoo.Session.patience``).
        self.patience = self.timeout

    def get_connection(self) -> Connection:
        """Connect on first use (creating the layout) and return a cheap view on the shared session."""
        return Connection(self, self.session())

    def close(self) -> None:
        """Store what is written behind, then end the session."""
        with self._lock:
            session, self._session = self._session, None
        if session is not None:
            session.close()

    def session(self) -> Session:
        """The started session; :class:`StorageUnavailable` naming the hosts if unreachable."""
        with self._lock:
            if self._session is None:
                session = Session(self.hosts, self.timeout, flush_delay=self.flush_delay, on_lost_write=self._forget,
                                  on_fence_broken=self._fence_broken, on_session_lost=self._session_lost)
                try:
                    session.ensure_paths(f"{self.root}/{kind}" for kind in ("books", "flows", "atoms", "leases"))
                except StorageUnavailable:
                    session.close()
                    raise
                self._session = session
            self._session.patience = self.patience
            return self._session

    def _forget(self, path: str) -> None:
        self.sent.pop(path.rsplit("/", 1)[-1], None)

    def wait_stored(self, atom_uuid: str) -> None:
        """Wait until the atom's latest write is in ZooKeeper (a worker calls it before the task acts).

        LeaseLost if the write was refused because the run's lease moved on: the task must not act.
        """
        write = self.unstored.pop(atom_uuid, None)
        if write is not None:
            self.session().wait_stored(write, f"atom detail {atom_uuid!r}")

    # -- facts beside TaskFlow's nodes (signals, summaries, damage): see _zk_facts -------------

    def run_ids(self) -> list[str]:
        """Ids of every stored logbook, without reading any of them."""
        return _zk_facts.run_ids(self)

    def locate_damage(self, run_id: str) -> tuple[str, str] | None:
        """The first node of the run that does not decode, and why; None if every node does."""
        return _zk_facts.locate_damage(self, run_id)

    def append_signal(self, run_id: str, name: str, sent_at: float, sender: str) -> int:
        """Store one signal as a sequential node of its own; return its sequence number."""
        return _zk_facts.append_signal(self, run_id, name, sent_at, sender)

    def signals_of(self, run_id: str) -> list[tuple[int, str, float, str]]:
        """The run's signals as (seq, name, sent_at, sender), oldest first."""
        return _zk_facts.signals_of(self, run_id)

    def drop_signals(self, run_ids: Sequence[str]) -> None:
        """Delete these runs' signal nodes."""
        _zk_facts.drop_signals(self, run_ids)

    def save_summaries(self, summaries: list[dict[str, Any]]) -> None:
        """Append pruned runs' summaries (packed, many to a node)."""
        _zk_facts.save_summaries(self, summaries)

    def summaries(self) -> list[dict[str, Any]]:
        """Every stored summary of a pruned run."""
        return _zk_facts.summaries(self)

    # -- leases (opsflow.engines.lease.LeaseStore) -----------------------------------------------

    #: How many given-up runs keep their writes refused (their engine threads end long before).
    GIVEN_UP_REMEMBERED = 1000

    def fence_of(self, run_id: str) -> Fence | None:
        """The condition on writes of this run, if this backend leased it; LeaseLost once lost."""
        return self._fence(self._leases.get(run_id))

    def fence_of_atom(self, atom_uuid: str) -> Fence | None:
        """The condition on writes of this atom: its run's (:meth:`fence_of`)."""
        return self._fence(self._atom_leases.get(atom_uuid))

    def _fence(self, lease: _RunLease | None) -> Fence | None:
        if lease is None:
            return None
        if lease.lost:
            raise LeaseLost(lease.run_id, f"its ZooKeeper lease at {self.hosts} is gone")
        return lease.fence

    def track_atoms(self, run_id: str, atom_uuids: Iterable[str]) -> None:
        """Fence the writes of these atoms of the run by its lease, if this backend took it."""
        lease = self._leases.get(run_id)
        if lease is None or lease.fence is None:  # only the runs this process drives need it
            return
        for atom_uuid in atom_uuids:
            lease.atoms.add(atom_uuid)
            self._atom_leases[atom_uuid] = lease

    def _fence_broken(self, lease_path: str) -> None:
        lease = self._leases.get(lease_path.rsplit("/", 1)[-1])
        if lease is not None:
            lease.lost = True

    def _session_lost(self) -> None:
        for lease in list(self._leases.values()):
            if lease.fence is not None:  # the owner nodes went with the session
                lease.lost = True

    def take_lease(self, run_id: str, holder: Holder, ttl: float) -> tuple[int, float]:
        """Take the run's lease unless its owner node lives (a dead local holder's is removed first)."""
        session = self.session()
        client = session.client
        path = f"{self.leases_path}/{run_id}"
        owner = f"{path}/owner"
        what = f"lease of run {run_id}"
        # A run leased for the first time has no lease node: creating it is sent in the same round
        # trip as the reads, after them. Where the node exists the create fails as a whole, and the
        # reads tell who holds it.
        def create_first() -> Any:  # a fresh transaction each time: gather sends again after a lost connection
            txn = client.transaction()
            txn.create(path, self._lease_payload(holder, 1))
            txn.create(owner, b"", ephemeral=True)
            return txn.commit_async()

        found = session.gather([(what, client.get_async, (path,)), (what, client.exists_async, (owner,)),
                                (what, create_first, ())], (tf_exc.NotFound,))
        if isinstance(found[0], tf_exc.NotFound):
            if any(isinstance(result, Exception) for result in found[2]):
                raise self._owned(run_id)  # another process created it meanwhile
            return self._taken(run_id, path, 1, 0)
        data, stat = found[0]
        stored = json.loads(data)
        other = Holder.from_dict(stored.get("holder"))
        ours = session.client.client_id[0] if session.client.client_id else None
        if found[1] is not None and other == holder and found[1].ephemeralOwner == ours:
            # our own create, sent again after a lost connection whose first reply never came
            return self._taken(run_id, path, int(stored.get("token", 0)), stat.version)
        held = found[1] is not None
        if held and other is not None and not other.is_dead():
            raise RunOwned(run_id, other.describe(), None, session_timeout=self.timeout)
        token, version = int(stored.get("token", 0)) + 1, stat.version + 1

        def take_over() -> Any:
            txn = client.transaction()
            if held:  # a dead local holder's owner node
                txn.delete(owner)
            txn.check(path, stat.version)
            txn.set_data(path, self._lease_payload(holder, token))
            txn.create(owner, b"", ephemeral=True)
            return txn.commit_async()

        results = session.call(what, take_over)
        if any(isinstance(result, Exception) for result in results):
            raise self._owned(run_id)
        return self._taken(run_id, path, token, version)

    def _taken(self, run_id: str, path: str, token: int, version: int) -> tuple[int, float]:
        """Fence the run's writes by the lease node at ``version`` from now on."""
        lease = self._leases.setdefault(run_id, _RunLease(run_id))
        lease.fence, lease.lost, lease.given_up = (path, version), False, False
        self._leases.move_to_end(run_id)
        return token, self.timeout

    def _owned(self, run_id: str) -> RunOwned:
        current = self.read_lease(run_id)
        return RunOwned(run_id, current.holder.describe() if current and current.holder else "another process",
                        None, session_timeout=self.timeout)

    def renew_lease(self, run_id: str, token: int, ttl: float) -> float:
        """Check the lease is still ours (same version, owner node of our session); LeaseLost if not."""
        session = self.session()
        fence = self.fence_of(run_id)
        if fence is None:
            raise LeaseLost(run_id, "this process does not hold it")
        path, version = fence
        what = f"lease of run {run_id}"
        found = session.gather([(what, session.client.exists_async, (path,)),
                                (what, session.client.exists_async, (f"{path}/owner",))])
        ours = session.client.client_id[0] if session.client.client_id else None
        if found[0] is None or found[0].version != version or found[1] is None or found[1].ephemeralOwner != ours:
            self._leases[run_id].lost = True  # fence_of found it
            raise LeaseLost(run_id, f"its ZooKeeper lease at {self.hosts} has a newer owner or lapsed")
        return self.timeout

    def release_lease(self, run_id: str, token: int) -> None:
        """Give the lease up if it is still ours, and stop fencing the run's writes."""
        lease = self._leases.get(run_id)
        fence, lost = (lease.fence, lease.lost) if lease is not None else (None, False)
        self._give_up(run_id)
        if fence is None or lost:
            return
        session = self.session()
        path, version = fence
        def give_back() -> Any:  # a fresh transaction each time: call sends again after a lost connection
            txn = session.client.transaction()
            txn.check(path, version)
            txn.set_data(path, self._lease_payload(None, token))
            txn.delete(f"{path}/owner")
            return txn.commit_async()

        session.call(f"lease of run {run_id}", give_back)  # failed check: not ours to release

    def _give_up(self, run_id: str) -> None:
        """Refuse the run's writes from now on (fence_of raises), remembering the newest runs only."""
        lease = self._leases.setdefault(run_id, _RunLease(run_id))
        lease.lost = lease.given_up = True
        self._leases.move_to_end(run_id)
        # list(): a snapshot taken without giving up the GIL, as another thread may take a lease meanwhile
        given_up = [old for old in list(self._leases.values()) if old.given_up]
        if len(given_up) > self.GIVEN_UP_REMEMBERED:
            # a conductor drives runs for months: forget the oldest, whose engines are long gone
            oldest = given_up[0]
            del self._leases[oldest.run_id]
            for atom_uuid in oldest.atoms:
                if self._atom_leases.get(atom_uuid) is oldest:
                    del self._atom_leases[atom_uuid]

    def read_lease(self, run_id: str) -> LeaseRecord | None:
        """The run's stored lease, if it ever had one."""
        return self.read_leases([run_id]).get(run_id)

    def read_leases(self, run_ids: list[str] | None = None) -> dict[str, LeaseRecord]:
        """Stored leases (of these runs, or all), by run id; pipelined."""
        session = self.session()
        client = session.client
        if run_ids is None:
            run_ids = list(session.call("leases", client.get_children_async, self.leases_path))
        paths = [f"{self.leases_path}/{run_id}" for run_id in run_ids]
        nodes = session.gather([(p, client.get_async, (p,)) for p in paths], (tf_exc.NotFound,))
        owners = session.gather([(p, client.exists_async, (f"{p}/owner",)) for p in paths])
        found = {}
        for run_id, node, owner in zip(run_ids, nodes, owners):
            if isinstance(node, tf_exc.NotFound):
                continue
            stored = json.loads(node[0])
            holder = Holder.from_dict(stored.get("holder"))
            live = holder is not None and owner is not None and not holder.is_dead()
            found[run_id] = LeaseRecord(run_id, holder, int(stored.get("token", 0)), None, live)
        return found

    def lease_usable(self, run_id: str) -> bool:
        """False while the session is SUSPENDED, and for good once the run's lease was lost."""
        session = self._session
        lease = self._leases.get(run_id)
        return session is not None and session.usable and not (lease is not None and lease.lost)

    def drop_leases(self, run_ids: Sequence[str]) -> None:
        """Delete these runs' lease nodes, but each whose owner node lives (a holder still has it)."""
        session = self.session()
        # a delete fails (not empty) while the ephemeral owner child exists: exactly while it is held
        results = session.gather([(f"lease of run {run_id}", session.client.delete_async,
                                   (f"{self.leases_path}/{run_id}",)) for run_id in run_ids],
                                 (tf_exc.NotFound, tf_exc.StorageFailure))
        for result in results:
            if isinstance(result, StorageUnavailable):
                raise result

    @staticmethod
    def _lease_payload(holder: Holder | None, token: int) -> bytes:
        return json.dumps({"holder": holder.to_dict() if holder else None, "token": token,
                           "taken": time.time()}).encode()


class Connection(base.Connection):  # type: ignore[misc]
    """TaskFlow's connection contract on a :class:`ZooKeeperBackend`; cheap to make and close."""

    def __init__(self, backend: ZooKeeperBackend, session: Session) -> None:
        self._backend = backend
        self._session = session
        self._client = session.client
        root = backend.root
        self._books, self._flows, self._atoms = f"{root}/books", f"{root}/flows", f"{root}/atoms"

    @property
    def backend(self) -> ZooKeeperBackend:
        """The backend this connection belongs to."""
        return self._backend

    def close(self) -> None:
        """Nothing to release: the backend owns the session."""

    def upgrade(self) -> None:
        """Nothing to migrate: the layout is created on connect."""

    def validate(self) -> None:
        """Check that the ensemble answers."""
        self._session.call("root node", self._client.exists_async, self._backend.root)

    def clear_all(self) -> None:
        """Delete every logbook, flow detail and atom detail."""
        paths = [f"{self._atoms}/{a}" for a in self._children(self._atoms, "atom details")]
        for parent in (self._flows, self._books):
            uuids = self._children(parent, parent)
            for uuid, children in zip(uuids, self._children_of([f"{parent}/{u}" for u in uuids])):
                paths += [f"{parent}/{uuid}/{child}" for child in children]
            paths += [f"{parent}/{u}" for u in uuids]
        self._delete(paths)
        self._backend.sent.clear()

    def update_atom_details(self, atom_detail: Any) -> Any:
        """Overwrite a stored atom in one ``set``; ``NotFound`` if it is not stored."""
        path = f"{self._atoms}/{atom_detail.uuid}"
        payload, lasting = self._atom_payload(atom_detail)
        sent = self._backend.sent.get(atom_detail.uuid)
        behind = self._backend.write_behind and sent is not None and (
            atom_detail.state in IN_FLIGHT_STATES or sent[0] == lasting
        )
        fence = self._backend.fence_of_atom(atom_detail.uuid)
        self._backend.sent[atom_detail.uuid] = (lasting, hash(payload))
        if behind:
            write = self._session.write_later(path, payload, fence)
            if atom_detail.state in IN_FLIGHT_STATES:  # what a worker waits for before acting
                self._backend.unstored[atom_detail.uuid] = write
            else:
                self._backend.unstored.pop(atom_detail.uuid, None)
            return atom_detail
        self._backend.unstored.pop(atom_detail.uuid, None)  # this write, awaited, carries it
        try:
            self._session.write_now(path, payload, f"atom detail {atom_detail.uuid!r}", fence)
        except BaseException:
            self._backend.sent.pop(atom_detail.uuid, None)
            raise
        return atom_detail

    def update_flow_details(self, flow_detail: Any) -> Any:
        """Update a stored flow detail and write its new or changed atoms; ``NotFound`` if not stored."""
        path = f"{self._flows}/{flow_detail.uuid}"
        what = f"flow detail {flow_detail.uuid!r}"
        fence = self._backend.fence_of(flow_detail.uuid)
        listing = self._client.get_children_async(path)  # goes out beside the write: one round trip for both
        self._session.write_now(path, self._payload(flow_detail.name, _codec.flow_state(flow_detail)), what, fence)
        try:
            stored = set(self._session.wait(listing, what))
        except StorageUnavailable:  # lost with a connection the write survived: ask again
            stored = set(self._children(path, what))
        self._write_atoms(flow_detail, stored)
        return self._with_stored_atoms(flow_detail, stored)

    def save_logbook(self, book: Any) -> Any:
        """Create or update a logbook with all its flow and atom details."""
        path = f"{self._books}/{book.uuid}"
        self._upsert(path, self._payload(book.name, _codec.book_state(book)), [], f"logbook {book.uuid!r}")
        for flow in book:
            flow_path = f"{self._flows}/{flow.uuid}"
            what = f"flow detail {flow.uuid!r}"
            self._upsert(flow_path, self._payload(flow.name, _codec.flow_state(flow)), [f"{path}/{flow.uuid}"], what)
            self._write_atoms(flow, set(self._children(flow_path, what)))
        return book

    def destroy_logbook(self, book_uuid: str) -> None:
        """Delete a logbook with its flow and atom details; ``NotFound`` if it is not stored."""
        if self.destroy_logbooks([book_uuid]):
            raise tf_exc.NotFound(f"no logbook {book_uuid!r} in ZooKeeper at {self._backend.hosts}")

    def destroy_logbooks(self, book_uuids: Sequence[str]) -> list[str]:
        """Delete these logbooks with their flow and atom details, three round trips for all of
        them (retention prunes hundreds at a time); return those that were not stored."""
        book_paths = [f"{self._books}/{uuid}" for uuid in book_uuids]
        listed = self._children_of(book_paths, (tf_exc.NotFound,))
        missing = [uuid for uuid, flows in zip(book_uuids, listed) if isinstance(flows, tf_exc.NotFound)]
        owned = [(path, flow) for path, flows in zip(book_paths, listed) if isinstance(flows, list) for flow in flows]
        flow_paths = [f"{self._flows}/{flow}" for _book_path, flow in owned]
        atoms_of = self._children_of(flow_paths, (tf_exc.NotFound,))
        paths: list[str] = []
        for (book_path, flow), flow_path, atoms in zip(owned, flow_paths, atoms_of):
            atoms = [] if isinstance(atoms, tf_exc.NotFound) else atoms
            paths += [f"{self._atoms}/{a}" for a in atoms] + [f"{flow_path}/{a}" for a in atoms]
            paths += [flow_path, f"{book_path}/{flow}"]
            for atom in atoms:
                self._backend.sent.pop(atom, None)
        self._delete([*paths, *(p for p, flows in zip(book_paths, listed) if isinstance(flows, list))])
        return missing

    def get_logbook(self, book_uuid: str, lazy: bool = False) -> Any:
        """Load a logbook (with its flows and atoms unless ``lazy``); ``NotFound`` if not stored."""
        path = f"{self._books}/{book_uuid}"
        what = f"logbook {book_uuid!r}"
        if lazy:
            data, _stat = self._session.call(what, self._client.get_async, path)
            node = json.loads(data)
            return _codec.load_book(book_uuid, node["name"], node["state"])
        (book,) = self.get_logbooks_of([book_uuid])
        if isinstance(book, tf_exc.NotFound):
            raise book
        return book

    def get_logbooks_of(self, book_uuids: Sequence[str]) -> list[Any]:
        """Load these logbooks with their flows and atoms, two round trips for all of them; a
        ``NotFound`` in place of each one that is not stored.

        An opsflow run's one flow detail has its logbook's uuid: it and its atoms' list are asked
        for in the same round trip as the logbook, and every run's atoms together in a second
        (listing or pruning a thousand runs waits for two replies, not five thousand).
        """
        client = self._client
        requests = []
        for uuid in book_uuids:
            book_path, flow_path = f"{self._books}/{uuid}", f"{self._flows}/{uuid}"
            requests += [(f"logbook {uuid!r}", client.get_async, (book_path,)),
                         (f"logbook {uuid!r}", client.get_children_async, (book_path,)),
                         (f"flow detail {uuid!r}", client.get_async, (flow_path,)),
                         (f"flow detail {uuid!r}", client.get_children_async, (flow_path,))]
        replies = self._session.gather(requests, (tf_exc.NotFound,))
        books: list[Any] = []
        own_flows: list[tuple[Any, list[str]]] = []  # flow details whose atoms the second round trip loads
        for index, uuid in enumerate(book_uuids):
            book_node, flow_uuids, flow_node, atom_uuids = replies[4 * index:4 * index + 4]
            missing = next((r for r in (book_node, flow_uuids) if isinstance(r, tf_exc.NotFound)), None)
            if missing is not None:
                books.append(missing)
                continue
            node = json.loads(book_node[0])
            book = _codec.load_book(uuid, node["name"], node["state"])
            updated_at = book.updated_at  # LogBook.add() stamps updated_at; keep the stored one
            try:
                for flow_uuid in flow_uuids:
                    if flow_uuid == uuid and not isinstance(flow_node, Exception) and isinstance(atom_uuids, list):
                        flow = self._flow_of(flow_uuid, flow_node[0])
                        own_flows.append((flow, atom_uuids))
                    else:
                        flow = self._load_flows([flow_uuid], lazy=False)[0]
                    book.add(flow)
            except tf_exc.NotFound as exc:  # deleted meanwhile
                books.append(exc)
                continue
            book.updated_at = updated_at
            books.append(book)
        atoms = iter(self._load_atoms([atom for _flow, flow_atoms in own_flows for atom in flow_atoms]))
        for flow, flow_atoms in own_flows:
            loaded = [next(atoms) for _atom in flow_atoms]
            self._backend.track_atoms(flow.uuid, (atom.uuid for atom in loaded))
            for atom in loaded:
                flow.add(atom)
        return books

    def get_logbooks(self, lazy: bool = False) -> Iterator[Any]:
        """Load every logbook."""
        return iter([self.get_logbook(uuid, lazy) for uuid in self._children(self._books, "logbooks")])

    def get_flows_for_book(self, book_uuid: str, lazy: bool = False) -> Iterator[Any]:
        """Load the flow details of a logbook; ``NotFound`` if the logbook is not stored."""
        uuids = self._children(f"{self._books}/{book_uuid}", f"logbook {book_uuid!r}")
        return iter(self._load_flows(uuids, lazy))

    def get_flow_details(self, fd_uuid: str, lazy: bool = False) -> Any:
        """Load a flow detail (with its atoms unless ``lazy``); ``NotFound`` if not stored."""
        return self._load_flows([fd_uuid], lazy)[0]

    def get_atom_details(self, ad_uuid: str) -> Any:
        """Load an atom detail; ``NotFound`` if not stored."""
        return self._load_atoms([ad_uuid])[0]

    def get_atoms_for_flow(self, fd_uuid: str) -> Iterator[Any]:
        """Load the atom details of a flow detail; ``NotFound`` if the flow is not stored."""
        return iter(self._load_atoms(self._children(f"{self._flows}/{fd_uuid}", f"flow detail {fd_uuid!r}")))

    def _atom_payload(self, atom: Any) -> tuple[bytes, int]:
        """The atom's node, and a hash of everything in it but progress (what must be awaited)."""
        state = _codec.atom_state(atom)
        meta = state.pop("meta") or {}
        core = _codec.dumps(state)
        head = _codec.dumps({"name": atom.name, "type": models.atom_detail_type(atom)})
        payload = f'{head[:-1]},"meta":{_codec.dumps(meta)},"atom":{core}}}'.encode()
        if len(payload) > MAX_NODE_BYTES:
            raise tf_exc.StorageFailure(
                f"atom {atom.name!r} ({atom.uuid}) is {len(payload)} bytes as JSON; a ZooKeeper node holds at "
                f"most {MAX_NODE_BYTES}: keep large results elsewhere (Swift, Glance) and return a reference"
            )
        lasting = {key: value for key, value in meta.items() if key not in PROGRESS_KEYS}
        return payload, hash((core, _codec.dumps(lasting) if lasting else ""))

    @staticmethod
    def _payload(name: str, state: dict[str, Any]) -> bytes:
        """A logbook's or flow detail's node: its name and mutable state."""
        return _codec.dumps({"name": name, "state": state}).encode()

    def _write_atoms(self, flow: Any, stored: set[str]) -> None:
        """Create the flow's atoms not linked yet (atom and link together); set changed ones."""
        sent = self._backend.sent
        fence = self._backend.fence_of(flow.uuid)
        creates: list[tuple[str, bytes]] = []
        sets: list[tuple[str, Any, tuple[Any, ...]]] = []
        written: list[str] = []
        self._backend.track_atoms(flow.uuid, (atom.uuid for atom in flow))
        for atom in flow:
            payload, lasting = self._atom_payload(atom)
            if atom.uuid not in stored:
                creates += [(f"{self._atoms}/{atom.uuid}", payload), (f"{self._flows}/{flow.uuid}/{atom.uuid}", b"")]
            elif sent.get(atom.uuid, (0, 0))[1] == hash(payload):
                continue
            else:
                path = f"{self._atoms}/{atom.uuid}"
                if fence is None:
                    sets.append((f"atom {atom.uuid!r}", self._client.set_async, (path, payload)))
                else:
                    sets.append((f"atom {atom.uuid!r}", self._commit_sets, ([(path, payload)], fence)))
            sent[atom.uuid] = (lasting, hash(payload))
            written.append(atom.uuid)
        # Atom and link sit in the same multi-op request (pairs, even size): no link without its atom.
        chunks = [creates[i : i + MULTI_OPS] for i in range(0, len(creates), MULTI_OPS)]
        commits = [(f"atoms of flow detail {flow.uuid!r}", self._commit_creates, (chunk, fence)) for chunk in chunks]
        try:
            outcomes = self._session.gather([*sets, *commits])
            if fence is not None:
                for outcome in outcomes[: len(sets)]:
                    self._refused_sets(flow.uuid, outcome, fence)
            for chunk, outcome in zip(chunks, outcomes[len(sets) :]):
                if any(isinstance(entry, Exception) for entry in outcome):
                    self._refused_creates(flow.uuid, outcome, fence)
                    self._create_each(flow.uuid, chunk, fence)  # some exist already: an earlier attempt got through
        except BaseException:
            for uuid in written:
                sent.pop(uuid, None)
            raise

    def _commit_creates(self, chunk: list[tuple[str, bytes]], fence: Fence | None = None) -> Any:
        txn = self._client.transaction()
        if fence is not None:
            txn.check(*fence)
        for path, payload in chunk:
            txn.create(path, payload)
        return txn.commit_async()

    def _commit_sets(self, chunk: list[tuple[str, bytes]], fence: Fence) -> Any:
        txn = self._client.transaction()
        txn.check(*fence)
        for path, payload in chunk:
            txn.set_data(path, payload)
        return txn.commit_async()

    def _refused_sets(self, flow_uuid: str, outcome: Any, fence: Fence) -> None:
        """Raise why a fenced multi-op setting an atom was refused, if it was.

        Any failed lease check is LeaseLost: a lease node at another version means a new owner, a
        missing one a run pruned with its lease; either way this process must stop driving the run.
        NotFound when the atom itself is gone.
        """
        if not isinstance(outcome, list) or not any(isinstance(entry, Exception) for entry in outcome):
            return
        check, atom_set = outcome
        if isinstance(check, Exception) and not isinstance(check, k_exc.RolledBackError):
            self._backend._fence_broken(fence[0])
            raise LeaseLost(flow_uuid, "its atoms not written: the lease moved on")
        if isinstance(atom_set, k_exc.NoNodeError):
            raise tf_exc.NotFound(f"no atom detail of flow {flow_uuid!r} in ZooKeeper at {self._backend.hosts}")

    def _refused_creates(self, flow_uuid: str, outcome: list[Any], fence: Fence | None) -> None:
        """Raise why a multi-op creating a flow's atoms was refused, unless only because some existed.

        LeaseLost when the lease check failed (the run has a new owner, or was pruned with its
        lease); NotFound when the flow detail is gone (its run was deleted meanwhile).
        """
        failures = [entry for entry in outcome if isinstance(entry, Exception)
                    and not isinstance(entry, k_exc.RolledBackError)]
        if fence is not None and isinstance(outcome[0], Exception) and not isinstance(outcome[0], k_exc.RolledBackError):
            self._backend._fence_broken(fence[0])
            raise LeaseLost(flow_uuid, "its atoms not written: the lease moved on")
        if any(isinstance(failure, k_exc.NoNodeError) for failure in failures):
            raise tf_exc.NotFound(f"no flow detail {flow_uuid!r} in ZooKeeper at {self._backend.hosts}")

    def _create_each(self, flow_uuid: str, creates: list[tuple[str, bytes]], fence: Fence | None) -> None:
        """Store atoms and their links that an earlier attempt may have stored in part, pair by pair.

        Each pair goes in one multi-op that creates what is missing, overwrites the atom if it is
        there, and requires the link (and so the flow detail) to exist or be created with it: an atom
        is never stored without its link, so a run pruned meanwhile leaves nothing behind (a stale
        conductor once left an orphan atom that no prune could find).
        """
        pairs = list(zip(creates[0::2], creates[1::2], strict=True))
        for _attempt in range(3):  # a pair changed by a resend after a lost connection is read again
            found = self._session.gather([(path, self._client.exists_async, (path,)) for pair in pairs for path, _ in pair])
            commits = [(f"atom {atom[0]!r} of flow detail {flow_uuid!r}", self._commit_pair,
                        (atom, atom_stat is not None, link[0], link_stat is not None, fence))
                       for (atom, link), atom_stat, link_stat in zip(pairs, found[0::2], found[1::2])]
            outcomes = self._session.gather(commits)
            for outcome in outcomes:
                if any(isinstance(entry, Exception) for entry in outcome):
                    self._refused_creates(flow_uuid, outcome, fence)
            pairs = [pair for pair, outcome in zip(pairs, outcomes) if any(isinstance(e, Exception) for e in outcome)]
            if not pairs:
                return
        raise tf_exc.StorageFailure(f"another writer kept changing the atoms of flow detail {flow_uuid!r} in "
                                    f"ZooKeeper at {self._backend.hosts} while they were stored; resume the run")

    def _commit_pair(self, atom: tuple[str, bytes], atom_exists: bool, link: str, link_exists: bool,
                     fence: Fence | None) -> Any:
        """Send one atom with its link: created where missing, the atom overwritten where stored."""
        txn = self._client.transaction()
        if fence is not None:
            txn.check(*fence)
        if atom_exists:
            txn.set_data(*atom)
        else:
            txn.create(*atom)
        if link_exists:
            txn.check(link, -1)  # any version: the link is there, and so its flow detail
        else:
            txn.create(link, b"")
        return txn.commit_async()

    def _with_stored_atoms(self, flow: Any, stored: set[str]) -> Any:
        """The flow detail as stored: the caller's atoms plus any another writer added."""
        extra = stored.difference(atom.uuid for atom in flow)
        if not extra:
            return flow
        merged = flow.copy()
        for atom in self._load_atoms(sorted(extra)):
            merged.add(atom)
        return merged

    def _upsert(self, path: str, payload: bytes, links: list[str], what: str) -> None:
        """Set a node, or create it with its link nodes if it does not exist yet."""
        updated = self._session.gather([(what, self._client.set_async, (path, payload))], (tf_exc.NotFound,))
        if not isinstance(updated[0], tf_exc.NotFound):
            return
        outcome = self._session.call(what, self._commit_creates, [(path, payload), *((link, b"") for link in links)])
        failures = [e for e in outcome if isinstance(e, Exception) and not isinstance(e, k_exc.RolledBackError)]
        if failures:
            hosts = self._backend.hosts
            raise tf_exc.StorageFailure(f"creating {what} in ZooKeeper at {hosts} failed: {failures[0]!r}")

    def _children(self, path: str, what: str) -> list[str]:
        return list(self._session.call(what, self._client.get_children_async, path))

    def _children_of(self, paths: list[str], tolerate: tuple[type[Exception], ...] = ()) -> list[Any]:
        """Each path's children, one round trip for all (an error of a ``tolerate`` type in its place)."""
        return self._session.gather([(path, self._client.get_children_async, (path,)) for path in paths], tolerate)

    def _delete(self, paths: list[str]) -> None:
        # Sent in order on one session, so children are gone before their parents are deleted.
        self._session.gather([(path, self._client.delete_async, (path,)) for path in paths], (tf_exc.NotFound,))

    def _load_flows(self, uuids: list[str], lazy: bool) -> list[Any]:
        paths = [f"{self._flows}/{u}" for u in uuids]
        requests = [(f"flow detail {u!r}", self._client.get_async, (p,)) for u, p in zip(uuids, paths)]
        nodes = self._session.gather(requests)
        flows = [self._flow_of(uuid, data) for uuid, (data, _stat) in zip(uuids, nodes)]
        if not lazy:
            for flow, atoms in zip(flows, self._children_of(paths)):
                self._add_atoms(flow, atoms)
        return flows

    @staticmethod
    def _flow_of(uuid: str, data: bytes) -> Any:
        node = json.loads(data)
        return _codec.load_flow(uuid, node["name"], node["state"])

    def _add_atoms(self, flow: Any, atom_uuids: list[str]) -> None:
        """Load these atoms (one round trip) into the flow detail."""
        atoms = self._load_atoms(atom_uuids)
        self._backend.track_atoms(flow.uuid, (atom.uuid for atom in atoms))
        for atom in atoms:
            flow.add(atom)

    def _load_atoms(self, uuids: list[str]) -> list[Any]:
        requests = [(f"atom detail {u!r}", self._client.get_async, (f"{self._atoms}/{u}",)) for u in uuids]
        atoms = []
        for uuid, (data, _stat) in zip(uuids, self._session.gather(requests)):
            node = json.loads(data)
            state = node["atom"]
            state["meta"] = node["meta"]
            atoms.append(_codec.load_atom(uuid, node["name"], node["type"], state))
        return atoms
