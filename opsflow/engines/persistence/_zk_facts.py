"""Facts opsflow keeps beside TaskFlow's nodes in ZooKeeper: signals, pruned runs' summaries, damage.

Kept apart from :mod:`impl_zookeeper` (TaskFlow's contract) so that each reads in one sitting;
:class:`~opsflow.engines.persistence.impl_zookeeper.ZooKeeperBackend` offers them as methods
(:mod:`opsflow.engines.signals`, :mod:`opsflow.engines.retention`, :mod:`opsflow.engines.records`
call those). Layout under the backend's root::

    signals/<run>/sig-NNNNNNNNNN   one sequential node per signal: {"name", "sent_at", "sender"}
    summaries/s-NNNNNNNNNN         up to SUMMARIES_PER_NODE pruned runs' summaries, a JSON list
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from kazoo import exceptions as k_exc
from taskflow import exceptions as tf_exc

from opsflow.engines.persistence import _codec

if TYPE_CHECKING:
    from opsflow.engines.persistence.impl_zookeeper import ZooKeeperBackend

__all__ = ["append_signal", "drop_signals", "locate_damage", "run_ids", "save_summaries", "signals_of", "summaries"]

LOG = logging.getLogger(__name__)

#: Folder of the signal nodes, one child folder per run; prefix of each signal's node.
SIGNALS, SIGNAL_PREFIX = "signals", "sig-"
#: Folder of the summary nodes; prefix of each (sequential) node; summaries one node holds.
SUMMARIES, SUMMARY_PREFIX, SUMMARIES_PER_NODE = "summaries", "s-", 1000


# -- damaged records (opsflow.engines.records lists the rest) ------------------------------


def run_ids(backend: ZooKeeperBackend) -> list[str]:
    """Ids of every stored logbook, without reading any of them."""
    session = backend.session()
    return [str(c) for c in session.call("logbooks", session.client.get_children_async, f"{backend.root}/books")]


def locate_damage(backend: ZooKeeperBackend, run_id: str) -> tuple[str, str] | None:
    """The first node of the run that does not decode, and why; None if every node does."""
    session = backend.session()
    book = f"{backend.root}/books/{run_id}"
    checks: list[tuple[str, str]] = [(book, "book")]
    flows = session.gather([(book, session.client.get_children_async, (book,))], (tf_exc.NotFound,))[0]
    for flow in flows if isinstance(flows, list) else []:
        flow_path = f"{backend.root}/flows/{flow}"
        checks.append((flow_path, "flow"))
        atoms = session.gather([(flow_path, session.client.get_children_async, (flow_path,))], (tf_exc.NotFound,))[0]
        checks += [(f"{backend.root}/atoms/{atom}", "atom") for atom in (atoms if isinstance(atoms, list) else [])]
    replies = session.gather([(path, session.client.get_async, (path,)) for path, _kind in checks],
                             (tf_exc.NotFound,))
    for (path, kind), reply in zip(checks, replies):
        if isinstance(reply, tf_exc.NotFound):
            continue
        uuid = path.rsplit("/", 1)[1]
        try:
            node = json.loads(reply[0])
            if kind == "book":
                _codec.load_book(uuid, node["name"], node["state"])
            elif kind == "flow":
                _codec.load_flow(uuid, node["name"], node["state"])
            else:
                state = node["atom"]
                state["meta"] = node["meta"]
                _codec.load_atom(uuid, node["name"], node["type"], state)
        except Exception as exc:  # whatever a corrupted node makes the decoder raise
            return f"znode {path} at {backend.hosts}", f"{type(exc).__name__}: {exc}"
    return None


# -- signals (opsflow.engines.signals): one sequential node each, never rewritten -----------


def append_signal(backend: ZooKeeperBackend, run_id: str, name: str, sent_at: float, sender: str) -> int:
    """Create one sequential node under the run's signal folder; return its sequence number.

    A create resent after a lost connection may store the signal twice: harmless, since a
    signal is a set member, and far better than losing it.
    """
    session = backend.session()
    folder = f"{backend.root}/{SIGNALS}/{run_id}"
    payload = _codec.dumps({"name": name, "sent_at": sent_at, "sender": sender}).encode()
    what = f"signal {name!r} of run {run_id}"
    # create_async(path, value, acl, ephemeral, sequence, makepath): the run's first signal makes its folder.
    created = session.call(what, session.client.create_async, f"{folder}/{SIGNAL_PREFIX}", payload, None,
                           False, True, True)
    return int(str(created).rsplit(SIGNAL_PREFIX, 1)[1])


def signals_of(backend: ZooKeeperBackend, run_id: str) -> list[tuple[int, str, float, str]]:
    """The run's signal nodes as (seq, name, sent_at, sender), oldest first."""
    session = backend.session()
    folder = f"{backend.root}/{SIGNALS}/{run_id}"
    listed = session.gather([(f"signals of run {run_id}", session.client.get_children_async, (folder,))],
                            (tf_exc.NotFound,))[0]
    if isinstance(listed, tf_exc.NotFound):
        return []
    children = sorted(str(child) for child in listed if str(child).startswith(SIGNAL_PREFIX))
    replies = session.gather([(f"signal {child} of run {run_id}", session.client.get_async, (f"{folder}/{child}",))
                              for child in children], (tf_exc.NotFound,))
    found = []
    for child, reply in zip(children, replies):
        if isinstance(reply, tf_exc.NotFound):
            continue
        try:
            node = json.loads(reply[0])
            found.append((int(child.removeprefix(SIGNAL_PREFIX)), str(node["name"]), float(node["sent_at"]),
                          str(node.get("sender", ""))))
        except (ValueError, KeyError, TypeError):
            LOG.warning("signal node %s/%s is damaged; ignoring it", folder, child)
    return found


# -- summaries of pruned runs (opsflow.engines.retention): many per node --------------------


def save_summaries(backend: ZooKeeperBackend, summaries: list[dict[str, Any]]) -> None:
    """Append summaries to the newest summary node, starting a new node when it is full.

    Packed (about 150 bytes each, a thousand to a node) so that a pruned run costs no node of
    its own: pruning keeps the node count flat. The append is a versioned ``set``, so two
    pruners at once never overwrite each other's summaries.
    """
    session = backend.session()
    folder = f"{backend.root}/{SUMMARIES}"
    pending = list(summaries)
    while pending:
        listed = session.gather([("summaries", session.client.get_children_async, (folder,))],
                                (tf_exc.NotFound,))[0]
        nodes = [] if isinstance(listed, tf_exc.NotFound) else sorted(
            str(n) for n in listed if str(n).startswith(SUMMARY_PREFIX))
        if nodes:
            path = f"{folder}/{nodes[-1]}"
            data, stat = session.call(f"summary node {path}", session.client.get_async, path)
            stored = _summary_list(data)
            room = SUMMARIES_PER_NODE - len(stored)
            if room > 0:
                result = session.client.set_async(path, _codec.dumps(stored + pending[:room]).encode(), stat.version)
                try:
                    session.wait(result, f"summary node {path}")
                except tf_exc.StorageFailure as exc:
                    if isinstance(exc.__cause__, k_exc.BadVersionError):
                        continue  # another pruner appended meanwhile: read it again
                    raise
                pending = pending[room:]
                continue
        chunk, pending = pending[:SUMMARIES_PER_NODE], pending[SUMMARIES_PER_NODE:]
        session.call("a new summary node", session.client.create_async, f"{folder}/{SUMMARY_PREFIX}",
                     _codec.dumps(chunk).encode(), None, False, True, True)


def summaries(backend: ZooKeeperBackend) -> list[dict[str, Any]]:
    """Every stored summary (damaged nodes left out, with a warning)."""
    session = backend.session()
    folder = f"{backend.root}/{SUMMARIES}"
    listed = session.gather([("summaries", session.client.get_children_async, (folder,))], (tf_exc.NotFound,))[0]
    if isinstance(listed, tf_exc.NotFound):
        return []
    nodes = sorted(str(n) for n in listed if str(n).startswith(SUMMARY_PREFIX))
    replies = session.gather([(f"summary node {n}", session.client.get_async, (f"{folder}/{n}",)) for n in nodes],
                             (tf_exc.NotFound,))
    found: list[dict[str, Any]] = []
    for node, reply in zip(nodes, replies):
        if not isinstance(reply, tf_exc.NotFound):
            found += _summary_list(reply[0], f"{folder}/{node}")
    return found


def drop_signals(backend: ZooKeeperBackend, run_ids: Sequence[str]) -> None:
    """Delete these runs' signal nodes and their folders (two round trips for all)."""
    session = backend.session()
    folders = [f"{backend.root}/{SIGNALS}/{run_id}" for run_id in run_ids]
    listings = session.gather([(f"signals of run {run_id}", session.client.get_children_async, (folder,))
                               for run_id, folder in zip(run_ids, folders)], (tf_exc.NotFound,))
    paths = [path for folder, listed in zip(folders, listings) if not isinstance(listed, tf_exc.NotFound)
             for path in [*(f"{folder}/{child}" for child in listed), folder]]
    session.gather([(path, session.client.delete_async, (path,)) for path in paths], (tf_exc.NotFound,))


def _summary_list(data: bytes, where: str = "") -> list[dict[str, Any]]:
    """The summaries a node holds; a damaged node holds none (and is reported)."""
    try:
        items = json.loads(data)
    except ValueError:
        LOG.warning("summary node %s is damaged; ignoring it", where)
        return []
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []
