"""TaskFlow persistence in ZooKeeper, with one round trip per finished task.

TaskFlow's own ZooKeeper backend costs ~14 ms per task: each of the ~4 atom updates per task
reads the node, decodes and merges it, asks ``exists`` and then commits a one-operation
transaction -- three sequential round trips, ~12 per task. Here:

* an atom update is one ``set`` of the whole atom (``_codec`` explains why that equals TaskFlow's
  merge), so ``NoNodeError`` is the not-found check and nothing is read first;
* updates that only record work in flight -- entering RUNNING or REVERTING, or changing nothing
  but ``meta`` (progress) of an atom this backend already wrote -- are sent without waiting for
  the reply ("write-behind"). Every other update, among them each SUCCESS/FAILURE/REVERTED with
  its result, waits for ZooKeeper's acknowledgement before returning. A ZooKeeper session applies
  requests in order, so when that acknowledgement arrives every earlier write-behind update is
  stored too: what is stored is always a prefix of what the engine did, and a resumed flow at most
  re-runs atoms that were in flight, as with any backend. ``write_behind: false`` turns it off;
* many-node operations (saving a flow's 1000 atoms, loading or deleting them) are pipelined:
  all requests are sent, then all replies awaited, instead of one round trip each;
* an atom whose whole state equals what this backend last wrote is not written again when its
  flow detail is saved (TaskFlow re-saves every atom on each flow state change).

Layout under the configured ``path``: ``books/<uuid>`` (children link its flows),
``flows/<uuid>`` (children link its atoms), ``atoms/<uuid>``; every node holds JSON.

Configuration: ``{"hosts": "127.0.0.1:2181,...", "path": "/opsflow", "timeout": 10.0,
"write_behind": true}`` (``timeout`` is the session timeout in seconds, also the connect limit).
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from kazoo import exceptions as k_exc
from kazoo.client import KazooClient
from kazoo.handlers.threading import KazooTimeoutError
from oslo_utils import strutils
from taskflow import exceptions as tf_exc
from taskflow import states
from taskflow.persistence import base, models

from opsflow.engines.persistence import _codec
from opsflow.engines.persistence._errors import StorageUnavailable

__all__ = ["ZooKeeperBackend"]

LOG = logging.getLogger(__name__)

#: Atom states a resumed flow treats like "not finished": their writes need not be awaited.
IN_FLIGHT_STATES = frozenset({states.RUNNING, states.REVERTING})
#: ZooKeeper refuses nodes above ~1 MB (jute.maxbuffer); fail clearly before it drops the session.
MAX_NODE_BYTES = 1_000_000
#: Operations per multi-op transaction when creating many nodes (keeps each request far below 1 MB).
CHUNK = 200


class ZooKeeperBackend(base.Backend):  # type: ignore[misc]
    """A TaskFlow backend keeping logbooks, flow details and atom details in ZooKeeper."""

    def __init__(self, conf: dict[str, Any]) -> None:
        super().__init__(conf)
        self.hosts = str(self._conf.get("hosts") or "")
        if not self.hosts:
            raise StorageUnavailable("the opsflow ZooKeeper backend needs 'hosts' (for example 127.0.0.1:2181)")
        self.root = "/" + str(self._conf.get("path") or "/opsflow").strip("/")
        self.timeout = float(self._conf.get("timeout", 10.0))
        self.write_behind = strutils.bool_from_string(self._conf.get("write_behind", True), default=True)
        self._lock = threading.Lock()
        self._client: KazooClient | None = None
        #: atom uuid -> (hash of its state without meta, hash of its whole node) as last sent.
        self._sent: dict[str, tuple[int, int]] = {}
        self._behind: collections.deque[tuple[str, Any]] = collections.deque()

    def get_connection(self) -> Connection:
        """Connect on first use (creating the layout) and return a cheap view on the shared client."""
        self.client()
        return Connection(self)

    def close(self) -> None:
        """Wait for write-behind updates, then end the session."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(StorageUnavailable, tf_exc.StorageFailure):
                self.settle()
            client.stop()
            client.close()

    def client(self) -> KazooClient:
        """The started client; raise :class:`StorageUnavailable` naming the hosts if unreachable."""
        client = self._client
        if client is not None:
            return client
        with self._lock:
            if self._client is None:
                client = KazooClient(hosts=self.hosts, timeout=self.timeout)
                try:
                    client.start(timeout=self.timeout)
                    for kind in ("books", "flows", "atoms"):
                        client.ensure_path(f"{self.root}/{kind}")
                except (KazooTimeoutError, k_exc.KazooException) as exc:
                    with contextlib.suppress(Exception):
                        client.stop()
                        client.close()
                    raise self.unavailable(exc) from exc
                self._client = client
            return self._client

    def unavailable(self, exc: BaseException) -> StorageUnavailable:
        """The error for an unreachable ensemble, naming the hosts and what to check."""
        return StorageUnavailable(
            f"ZooKeeper at {self.hosts} (path {self.root}) is unreachable: {type(exc).__name__} {exc}; "
            f"check that the ensemble runs (python -m opsflow.services.zookeeper status --dir DIR) "
            f"and that the hosts in the state URL are right"
        )

    def wait(self, result: Any, what: str) -> Any:
        """Wait for one kazoo reply, mapping its error to TaskFlow's (``what`` names the node)."""
        try:
            return result.get(timeout=self.timeout)
        except k_exc.NoNodeError:
            raise tf_exc.NotFound(f"no {what} in ZooKeeper at {self.hosts}{self.root}") from None
        except k_exc.NodeExistsError as exc:
            raise tf_exc.Duplicate(f"{what} already exists in ZooKeeper at {self.hosts}{self.root}") from exc
        except (KazooTimeoutError, k_exc.ConnectionLoss, k_exc.SessionExpiredError, k_exc.ConnectionClosedError) as exc:
            raise self.unavailable(exc) from exc
        except (k_exc.KazooException, k_exc.ZookeeperError) as exc:
            raise tf_exc.StorageFailure(f"ZooKeeper at {self.hosts} failed on {what}: {exc!r}") from exc

    def send_behind(self, path: str, payload: bytes) -> None:
        """Send a ``set`` without waiting; its failure is logged when a later reply is in."""
        result = self.client().set_async(path, payload)
        with self._lock:
            self._behind.append((path, result))
        self._reap()

    def settle(self) -> None:
        """Wait until every write-behind update is acknowledged (or has failed and been logged)."""
        with self._lock:
            pending = list(self._behind)
        for _path, result in pending:
            result.wait(self.timeout)
        self._reap()

    def _reap(self) -> None:
        with self._lock:
            while self._behind and self._behind[0][1].ready():
                path, result = self._behind.popleft()
                if not result.successful():
                    # Only in-flight or meta-only states are written behind; the next awaited write
                    # of this atom carries its whole state again, so losing one is not a data loss.
                    LOG.warning("write-behind update of %s on %s failed: %r", path, self.hosts, result.exception)
                    self._sent.pop(path.rsplit("/", 1)[-1], None)


class Connection(base.Connection):  # type: ignore[misc]
    """TaskFlow's connection contract on a :class:`ZooKeeperBackend`; cheap to make and close."""

    def __init__(self, backend: ZooKeeperBackend) -> None:
        self._backend = backend
        self._client = backend.client()
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
        self._backend.wait(self._client.exists_async(self._backend.root), "root node")

    def clear_all(self) -> None:
        """Delete every logbook, flow detail and atom detail."""
        paths = [f"{self._atoms}/{a}" for a in self._children(self._atoms, "atom details")]
        for parent in (self._flows, self._books):
            uuids = self._children(parent, parent)
            links = self._gather([(f"{parent}/{u}", parent) for u in uuids], self._client.get_children_async)
            for uuid, children in zip(uuids, links):
                paths += [f"{parent}/{uuid}/{child}" for child in children]
            paths += [f"{parent}/{u}" for u in uuids]
        self._delete(paths)
        with self._backend._lock:
            self._backend._sent.clear()

    def update_atom_details(self, atom_detail: Any) -> Any:
        """Overwrite a stored atom in one ``set``; ``NotFound`` if it is not stored."""
        path = f"{self._atoms}/{atom_detail.uuid}"
        payload, core_hash = self._atom_payload(atom_detail)
        sent = self._backend._sent.get(atom_detail.uuid)
        behind = self._backend.write_behind and sent is not None and (
            atom_detail.state in IN_FLIGHT_STATES or sent[0] == core_hash
        )
        self._backend._sent[atom_detail.uuid] = (core_hash, hash(payload))
        if behind:
            self._backend.send_behind(path, payload)
        else:
            try:
                self._backend.wait(self._client.set_async(path, payload), f"atom detail {atom_detail.uuid!r}")
            except BaseException:
                self._backend._sent.pop(atom_detail.uuid, None)
                raise
        return atom_detail

    def update_flow_details(self, flow_detail: Any) -> Any:
        """Update a stored flow detail and write its new or changed atoms; ``NotFound`` if not stored."""
        path = f"{self._flows}/{flow_detail.uuid}"
        set_flow = self._client.set_async(path, self._payload(flow_detail.name, _codec.flow_state(flow_detail)))
        linked = self._client.get_children_async(path)
        self._backend.wait(set_flow, f"flow detail {flow_detail.uuid!r}")
        stored = set(self._backend.wait(linked, f"flow detail {flow_detail.uuid!r}"))
        self._write_atoms(flow_detail, stored)
        return self._with_stored_atoms(flow_detail, stored)

    def save_logbook(self, book: Any) -> Any:
        """Create or update a logbook with all its flow and atom details."""
        path = f"{self._books}/{book.uuid}"
        self._upsert(path, self._payload(book.name, _codec.book_state(book)), [], f"logbook {book.uuid!r}")
        for flow in book:
            flow_path = f"{self._flows}/{flow.uuid}"
            self._upsert(
                flow_path,
                self._payload(flow.name, _codec.flow_state(flow)),
                [f"{path}/{flow.uuid}"],
                f"flow detail {flow.uuid!r}",
            )
            stored = set(self._children(flow_path, f"flow detail {flow.uuid!r}"))
            self._write_atoms(flow, stored)
        return book

    def destroy_logbook(self, book_uuid: str) -> None:
        """Delete a logbook with its flow and atom details; ``NotFound`` if it is not stored."""
        book_path = f"{self._books}/{book_uuid}"
        flows = self._children(book_path, f"logbook {book_uuid!r}")
        atoms = self._gather([(f"{self._flows}/{f}", "flow detail") for f in flows], self._client.get_children_async)
        paths: list[str] = []
        for flow, flow_atoms in zip(flows, atoms):
            paths += [f"{self._atoms}/{a}" for a in flow_atoms]
            paths += [f"{self._flows}/{flow}/{a}" for a in flow_atoms]
            paths += [f"{self._flows}/{flow}", f"{book_path}/{flow}"]
            with self._backend._lock:
                for atom in flow_atoms:
                    self._backend._sent.pop(atom, None)
        self._delete([*paths, book_path])

    def get_logbook(self, book_uuid: str, lazy: bool = False) -> Any:
        """Load a logbook (with its flows and atoms unless ``lazy``); ``NotFound`` if not stored."""
        path = f"{self._books}/{book_uuid}"
        data, _stat = self._backend.wait(self._client.get_async(path), f"logbook {book_uuid!r}")
        node = json.loads(data)
        book = _codec.load_book(book_uuid, node["name"], node["state"])
        updated_at = book.updated_at  # LogBook.add() stamps updated_at; keep the stored one
        if not lazy:
            for flow in self.get_flows_for_book(book_uuid):
                book.add(flow)
        book.updated_at = updated_at
        return book

    def get_logbooks(self, lazy: bool = False) -> Iterator[Any]:
        """Load every logbook."""
        books = [self.get_logbook(uuid, lazy) for uuid in self._children(self._books, "logbooks")]
        return iter(books)

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
        state = _codec.atom_state(atom)
        meta = _codec.dumps(state.pop("meta"))
        core = _codec.dumps(state)
        head = _codec.dumps({"name": atom.name, "type": models.atom_detail_type(atom)})
        payload = f'{head[:-1]},"meta":{meta},"atom":{core}}}'.encode()
        if len(payload) > MAX_NODE_BYTES:
            raise tf_exc.StorageFailure(
                f"atom {atom.name!r} ({atom.uuid}) is {len(payload)} bytes as JSON; a ZooKeeper node holds at "
                f"most {MAX_NODE_BYTES}: keep large results elsewhere (Swift, Glance) and return a reference"
            )
        return payload, hash(core)

    @staticmethod
    def _payload(name: str, state: dict[str, Any]) -> bytes:
        """A logbook's or flow detail's node: its name and mutable state."""
        return _codec.dumps({"name": name, "state": state}).encode()

    def _write_atoms(self, flow: Any, stored: set[str]) -> None:
        """Create the flow's atoms not linked yet (atom and link together); set changed ones."""
        sent = self._backend._sent
        creates: list[tuple[str, bytes]] = []
        sets: list[tuple[Any, str]] = []
        written: list[str] = []
        for atom in flow:
            payload, core_hash = self._atom_payload(atom)
            if atom.uuid not in stored:
                creates += [(f"{self._atoms}/{atom.uuid}", payload), (f"{self._flows}/{flow.uuid}/{atom.uuid}", b"")]
            elif sent.get(atom.uuid, (0, 0))[1] == hash(payload):
                continue
            else:
                sets.append((self._client.set_async(f"{self._atoms}/{atom.uuid}", payload), f"atom {atom.uuid!r}"))
            sent[atom.uuid] = (core_hash, hash(payload))
            written.append(atom.uuid)
        try:
            # Atom and link sit in the same chunk (pairs, even chunk size): no link without its atom.
            commits = []
            for start in range(0, len(creates), CHUNK):
                chunk = creates[start : start + CHUNK]
                txn = self._client.transaction()
                for path, payload in chunk:
                    txn.create(path, payload)
                commits.append((chunk, txn.commit_async()))
            for result, what in sets:
                self._backend.wait(result, what)
            for chunk, commit in commits:
                outcomes = self._backend.wait(commit, f"atoms of flow detail {flow.uuid!r}")
                if any(isinstance(outcome, Exception) for outcome in outcomes):
                    self._create_each(chunk)
        except BaseException:
            for uuid in written:
                sent.pop(uuid, None)
            raise

    def _create_each(self, creates: list[tuple[str, bytes]]) -> None:
        """Create nodes one by one, overwriting those that exist (an earlier attempt got through)."""
        for path, payload in creates:
            try:
                self._backend.wait(self._client.create_async(path, payload), path)
            except tf_exc.Duplicate:
                self._backend.wait(self._client.set_async(path, payload), path)

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
        try:
            self._backend.wait(self._client.set_async(path, payload), what)
        except tf_exc.NotFound:
            txn = self._client.transaction()
            txn.create(path, payload)
            for link in links:
                txn.create(link, b"")
            for outcome in self._backend.wait(txn.commit_async(), what):
                if isinstance(outcome, Exception) and not isinstance(outcome, k_exc.RolledBackError):
                    raise tf_exc.StorageFailure(f"creating {what} failed: {outcome!r}") from outcome

    def _children(self, path: str, what: str) -> list[str]:
        return list(self._backend.wait(self._client.get_children_async(path), what))

    def _gather(self, requests: Iterable[tuple[str, str]], call: Any) -> list[Any]:
        """Send every request first, then wait for every reply (one round trip for all)."""
        pending = [(call(path), f"{what} {path.rsplit('/', 1)[-1]!r}") for path, what in requests]
        return [self._backend.wait(result, what) for result, what in pending]

    def _delete(self, paths: list[str]) -> None:
        # Sent in order on one session, so children are gone before their parents are deleted.
        pending = [self._client.delete_async(path) for path in paths]
        for path, result in zip(paths, pending):
            with contextlib.suppress(tf_exc.NotFound):
                self._backend.wait(result, path)

    def _load_flows(self, uuids: list[str], lazy: bool) -> list[Any]:
        nodes = self._gather([(f"{self._flows}/{u}", "flow detail") for u in uuids], self._client.get_async)
        flows = []
        for uuid, (data, _stat) in zip(uuids, nodes):
            node = json.loads(data)
            flows.append(_codec.load_flow(uuid, node["name"], node["state"]))
        if not lazy:
            links = self._gather([(f"{self._flows}/{u}", "flow detail") for u in uuids], self._client.get_children_async)
            for flow, atoms in zip(flows, links):
                for atom in self._load_atoms(atoms):
                    flow.add(atom)
        return flows

    def _load_atoms(self, uuids: list[str]) -> list[Any]:
        nodes = self._gather([(f"{self._atoms}/{u}", "atom detail") for u in uuids], self._client.get_async)
        atoms = []
        for uuid, (data, _stat) in zip(uuids, nodes):
            node = json.loads(data)
            state = node["atom"]
            state["meta"] = node["meta"]
            atoms.append(_codec.load_atom(uuid, node["name"], node["type"], state))
        return atoms
