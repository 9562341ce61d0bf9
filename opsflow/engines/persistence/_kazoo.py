"""One kazoo session as opsflow's ZooKeeper backend uses it: errors mapped once, requests batched.

Three things live here so the backend can read as TaskFlow's contract:

* **the error boundary** -- kazoo exceptions become TaskFlow's (``NotFound``, ``Duplicate``,
  ``StorageFailure``) or :class:`StorageUnavailable` naming the hosts and the fix;
* **resending** -- idempotent requests are sent again after a lost connection once kazoo has
  moved to another server, within the session timeout (a leader election takes ~1 s);
* **write-behind with coalescing** -- writes the caller need not wait for are buffered (the
  latest payload per node wins) and go out together as one multi-op request, either ahead of the
  next request of any kind or after ``flush_delay`` by a background thread. Each kazoo request
  costs a thread hand-off and a GIL round trip (~0.2-0.4 ms here), so four writes per task sent
  one by one cost twice what one batched request does. Because the buffer is always sent ahead
  of any later request on the same session and ZooKeeper applies a session's requests in order,
  a reply to a later request means every buffered write before it is applied too;
* **stored before acting** -- :meth:`Session.write_later` returns the buffered write, and
  :meth:`Session.wait_stored` waits until ZooKeeper has it (sending the buffer at once if it is
  still there): a task's RUNNING mark goes out behind, coalesced with other writes, yet the worker
  about to run the task waits for it, so a task never acts before it is stored as started;
* **fencing** -- a write may carry a fence, ``(lease node, version)``: it then goes out in a
  multi-op whose first operation is ``check(lease node, version)``, so it is applied only while
  the run's lease is still the writer's (:mod:`opsflow.engines.lease`). A failed check raises
  :class:`~opsflow.errors.LeaseLost` for an awaited write and reports the lease to
  ``on_fence_broken`` for one written behind;
* **connection state** -- ``usable`` is False from the moment kazoo reports the connection
  SUSPENDED until it is CONNECTED again; ``on_session_lost`` hears of an expired session.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from kazoo import exceptions as k_exc
from kazoo.client import KazooClient
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import KazooState
from taskflow import exceptions as tf_exc

from opsflow.errors import LeaseLost, StorageUnavailable

__all__ = ["Fence", "Session", "Write"]

#: A write's condition: the run's lease node and the version it must still have.
Fence = tuple[str, int]
#: One write: node, payload, fence (None: unconditional).
_Op = tuple[str, bytes, "Fence | None"]

LOG = logging.getLogger(__name__)


class Write:
    """One write sent behind: what it sets, and once sent, the request that carries it."""

    __slots__ = ("path", "payload", "fence", "sent", "replaced_by")

    def __init__(self, path: str, payload: bytes, fence: Fence | None) -> None:
        self.path = path
        self.payload = payload
        self.fence = fence
        #: The request carrying it (its ops and kazoo's async result), once sent.
        self.sent: tuple[list[_Op], Any] | None = None
        #: A later write of the same node that replaced it in the buffer before it was sent.
        self.replaced_by: Write | None = None

    @property
    def op(self) -> _Op:
        """As :meth:`Session._send_multi` takes it."""
        return (self.path, self.payload, self.fence)

#: Errors after which an idempotent request is sent again once the client has reconnected.
RECONNECTABLE = (k_exc.ConnectionLoss, k_exc.SessionExpiredError, k_exc.OperationTimeoutError)
#: ... and also a reply that did not come in time while the client was reconnecting.
RESENDABLE = (*RECONNECTABLE, KazooTimeoutError)
#: A multi-op request stays below these (ZooKeeper's jute.maxbuffer is 1 MB per request).
MULTI_OPS, MULTI_BYTES = 200, 512_000


class Session:
    """A started kazoo client with mapped errors, resending and a coalescing write buffer."""

    def __init__(
        self,
        hosts: str,
        timeout: float,
        *,
        flush_delay: float = 0.05,
        on_lost_write: Callable[[str], None] = lambda path: None,
        on_fence_broken: Callable[[str], None] = lambda lease_path: None,
        on_session_lost: Callable[[], None] = lambda: None,
    ) -> None:
        self.hosts = hosts
        self.timeout = timeout
        self.flush_delay = flush_delay
        self._on_lost_write = on_lost_write
        self._on_fence_broken = on_fence_broken
        self._on_session_lost = on_session_lost
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._buffer: dict[str, Write] = {}
        self._in_flight: list[tuple[list[_Op], Any]] = []
        self._closed = False
        #: False while the connection is SUSPENDED (or the session lost): leases cannot be vouched for.
        self.usable = True
        #: Seconds a request keeps being resent through an outage (a ZooKeeper restart) before it
        #: fails: a conductor's outage bound; at least the session timeout.
        self.patience = timeout
        # Retry connecting every half second at most (kazoo backs off up to a minute): after a long
        # outage the session, and the run's lease with it, survives only if we are back in time.
        self.client = KazooClient(hosts=hosts, timeout=timeout,
                                  connection_retry={"max_tries": -1, "delay": 0.1, "backoff": 2, "max_delay": 0.5})
        self.client.add_listener(self._state_changed)
        try:
            self.client.start(timeout=timeout)
        except (KazooTimeoutError, k_exc.KazooException) as exc:
            raise self.unavailable(exc) from exc
        self._flusher = threading.Thread(target=self._flush_loop, name=f"zk-write-behind {hosts}", daemon=True)
        self._flusher.start()

    def close(self) -> None:
        """Send what is buffered, wait for it, and end the session."""
        with self._lock:
            self._closed = True
            self._wake.notify_all()
        self._flusher.join(self.timeout)
        try:
            self.flush()
        finally:
            self.client.stop()
            self.client.close()

    def _state_changed(self, state: KazooState) -> None:
        # Called from kazoo's connection thread: only flags and callbacks that do not block.
        self.usable = state == KazooState.CONNECTED
        if state == KazooState.LOST and not self._closed:
            self._on_session_lost()

    def unavailable(self, exc: BaseException) -> StorageUnavailable:
        """The error for an unreachable ensemble, naming the hosts and what to check."""
        return StorageUnavailable(
            f"ZooKeeper at {self.hosts} is unreachable ({type(exc).__name__} {exc}); check that the "
            f"ensemble runs (python -m opsflow.services.zookeeper status --dir DIR) and that the hosts in "
            f"the state URL are right"
        )

    def wait(self, result: Any, what: str) -> Any:
        """Wait for one reply, mapping its error to TaskFlow's (``what`` names the node)."""
        try:
            return result.get(timeout=self.timeout)
        except k_exc.NoNodeError:
            raise tf_exc.NotFound(f"no {what} in ZooKeeper at {self.hosts}") from None
        except k_exc.NodeExistsError as exc:
            raise tf_exc.Duplicate(f"{what} already exists in ZooKeeper at {self.hosts}") from exc
        except (KazooTimeoutError, k_exc.ConnectionClosedError, *RECONNECTABLE) as exc:
            raise self.unavailable(exc) from exc
        except (k_exc.KazooException, k_exc.ZookeeperError) as exc:
            raise tf_exc.StorageFailure(f"ZooKeeper at {self.hosts} failed on {what}: {exc!r}") from exc

    def _reply(self, result: Any, what: str, tolerate: tuple[type[Exception], ...]) -> Any:
        try:
            return self.wait(result, what)
        except tolerate as exc:
            return exc

    def call(self, what: str, method: Callable[..., Any], *args: Any) -> Any:
        """Send one idempotent request after the buffer and wait for it, resending after failover."""
        return self.gather([(what, method, args)])[0]

    def gather(
        self,
        requests: Iterable[tuple[str, Callable[..., Any], tuple[Any, ...]]],
        tolerate: tuple[type[Exception], ...] = (),
    ) -> list[Any]:
        """Send requests back to back, then wait for every reply: one round trip for all.

        Requests must be safe to send twice: after a lost connection all are sent again. Errors
        of the ``tolerate`` types are returned in place of the reply instead of raised.
        """
        requests = list(requests)
        deadline = time.monotonic() + max(self.timeout, self.patience)
        while True:
            with self._lock:
                self._send_buffer()
                pending = [(method(*args), what) for what, method, args in requests]
            try:
                return [self._reply(result, what, tolerate) for result, what in pending]
            except StorageUnavailable as exc:
                if not isinstance(exc.__cause__, RESENDABLE) or time.monotonic() > deadline:
                    raise
                LOG.info("connection to ZooKeeper at %s lost; resending once reconnected", self.hosts)
                while not self.client.connected and time.monotonic() < deadline:
                    time.sleep(0.02)

    def ensure_paths(self, paths: Iterable[str]) -> None:
        """Create these nodes and their parents if missing."""
        try:
            for path in paths:
                self.client.ensure_path(path)
        except (KazooTimeoutError, k_exc.KazooException) as exc:
            raise self.unavailable(exc) from exc

    def write_later(self, path: str, payload: bytes, fence: Fence | None = None) -> Write:
        """Buffer a ``set`` whose reply nobody waits for; a later write to ``path`` replaces it.

        Returns the write, for :meth:`wait_stored`.
        """
        write = Write(path, payload, fence)
        with self._lock:
            replaced = self._buffer.get(path)
            if replaced is not None:
                replaced.replaced_by = write
            self._buffer[path] = write
            self._wake.notify()
        return write

    def wait_stored(self, write: Write, what: str) -> None:
        """Wait until ``write`` (or the write that replaced it) is stored, sending it now if it is
        still buffered; LeaseLost if its fence moved on. A write lost with the connection is sent again."""
        with self._lock:
            while write.replaced_by is not None:
                write = write.replaced_by
            if write.sent is None:
                self._send_buffer()
            sent = write.sent
        if sent is None:  # cannot happen: a buffered write is sent above, an awaited one carries it
            self.write_alone(write.op, what)
            return
        ops, result = sent
        try:
            outcome = self.wait(result, what)
        except StorageUnavailable as exc:
            if not isinstance(exc.__cause__, RESENDABLE):
                raise
        else:
            if write.fence is not None and write.fence[0] in self._broken_fences(ops, outcome):
                raise LeaseLost(write.fence[0].rsplit("/", 1)[-1], f"{what} not written: the lease moved on")
            if not (isinstance(outcome, list) and any(isinstance(entry, Exception) for entry in outcome)):
                return
        with self._lock:
            newer = self._buffer.get(write.path)
        if newer is not None:  # a newer copy of the node waits in the buffer: that one must be stored
            self.wait_stored(newer, what)
        else:
            self.write_alone(write.op, what)

    def write_now(self, path: str, payload: bytes, what: str, fence: Fence | None = None) -> None:
        """``set`` a node and wait until it is stored, together with everything buffered before it.

        With a ``fence``, LeaseLost if the lease node moved on (nothing of the request is applied).
        """
        mine: _Op = (path, payload, fence)
        with self._lock:
            superseded = self._buffer.pop(path, None)  # this write carries it
            kept = self._send_buffer(keep_last=True)
            if kept and (len(kept) >= MULTI_OPS or sum(len(w.payload) for w in kept) + len(payload) > MULTI_BYTES):
                self._in_flight.append(self._send_writes(kept))
                kept = []
            batch = [w.op for w in kept] + [mine]
            ops, result = self._send_multi(batch)
            for write in kept:
                write.sent = (ops, result)
            if superseded is not None:  # whoever waits for it waits for this newer copy
                superseded.replaced_by = Write(path, payload, fence)
                superseded.replaced_by.sent = (ops, result)
        try:
            outcome = self.wait(result, what)
        except StorageUnavailable as exc:
            if not isinstance(exc.__cause__, RESENDABLE):
                raise
            failed = True
        else:
            broken = self._broken_fences(ops, outcome)
            if fence is not None and fence[0] in broken:
                self._report_broken(broken - {fence[0]})
                raise LeaseLost(fence[0].rsplit("/", 1)[-1], f"{what} not written: the lease moved on")
            self._report_broken(broken)
            failed = isinstance(outcome, list) and any(isinstance(entry, Exception) for entry in outcome)
        if failed:
            # Lost connection, or a multi-op request failed as a whole (all or nothing): send each
            # write alone, so that one missing node (another process destroyed its logbook) costs
            # only its own write, and wait for ours.
            with self._lock:
                for op in batch[:-1]:
                    self._in_flight.append(self._send_multi([op]))
            self.write_alone(mine, what)

    def write_alone(self, op: _Op, what: str) -> None:
        """Send one (fenced) write and wait for it, resending after a fail-over; LeaseLost if fenced out."""
        deadline = time.monotonic() + max(self.timeout, self.patience)
        while True:
            with self._lock:
                self._send_buffer()
                ops, result = self._send_multi([op])
            try:
                outcome = self.wait(result, what)
            except StorageUnavailable as exc:
                if not isinstance(exc.__cause__, RESENDABLE) or time.monotonic() > deadline:
                    raise
                while not self.client.connected and time.monotonic() < deadline:
                    time.sleep(0.02)
                continue
            if self._broken_fences(ops, outcome):
                raise LeaseLost(op[2][0].rsplit("/", 1)[-1] if op[2] else "", f"{what} not written: the lease moved on")
            if isinstance(outcome, list):
                real = [e for e in outcome if isinstance(e, Exception) and not isinstance(e, k_exc.RolledBackError)]
                if real and isinstance(real[0], k_exc.NoNodeError):
                    raise tf_exc.NotFound(f"no {what} in ZooKeeper at {self.hosts}")
                if real:
                    raise tf_exc.StorageFailure(f"ZooKeeper at {self.hosts} failed on {what}: {real[0]!r}")
            return

    def flush(self) -> None:
        """Send what is buffered and wait until every write-behind reply is in (failures logged)."""
        with self._lock:
            self._send_buffer()
            in_flight, self._in_flight = self._in_flight, []
        for ops, result in in_flight:
            result.wait(self.timeout)
            self._check(ops, result)

    def _send_buffer(self, keep_last: bool = False) -> list[Write]:
        """Send the buffer as multi-op chunks (lock held); with ``keep_last`` return the last chunk unsent."""
        self._reap()
        if not self._buffer:
            return []
        writes, self._buffer = list(self._buffer.values()), {}
        chunks: list[list[Write]] = [[]]
        size = 0
        for write in writes:
            if chunks[-1] and (len(chunks[-1]) >= MULTI_OPS or size + len(write.payload) > MULTI_BYTES):
                chunks.append([])
                size = 0
            chunks[-1].append(write)
            size += len(write.payload)
        last = chunks.pop() if keep_last else []
        for chunk in chunks:
            self._in_flight.append(self._send_writes(chunk))
        return last

    def _send_writes(self, writes: list[Write]) -> tuple[list[_Op], Any]:
        """Send buffered writes as one request and remember it on each (lock held)."""
        sent = self._send_multi([write.op for write in writes])
        for write in writes:
            write.sent = sent
        return sent

    def _send_multi(self, ops: list[_Op]) -> tuple[list[_Op], Any]:
        """Send writes as one request: a plain ``set`` if alone and unfenced, else one multi-op whose
        first operations check each distinct fence."""
        fences = list(dict.fromkeys(fence for _p, _d, fence in ops if fence is not None))
        if len(ops) == 1 and not fences:
            path, payload, _fence = ops[0]
            return ops, self.client.set_async(path, payload)
        txn = self.client.transaction()
        for lease_path, version in fences:
            txn.check(lease_path, version)
        for path, payload, _fence in ops:
            txn.set_data(path, payload)
        return ops, txn.commit_async()

    @staticmethod
    def _broken_fences(ops: list[_Op], outcome: Any) -> set[str]:
        """Lease nodes whose check failed in a reply to :meth:`_send_multi` (empty for a plain set)."""
        if not isinstance(outcome, list):
            return set()
        fences = list(dict.fromkeys(fence for _p, _d, fence in ops if fence is not None))
        return {fence[0] for fence, entry in zip(fences, outcome)
                if isinstance(entry, Exception) and not isinstance(entry, k_exc.RolledBackError)}

    def _report_broken(self, lease_paths: set[str]) -> None:
        for lease_path in lease_paths:
            self._on_fence_broken(lease_path)

    def _reap(self) -> None:
        """Check write-behind replies that are in (lock held)."""
        while self._in_flight and self._in_flight[0][1].ready():
            ops, result = self._in_flight.pop(0)
            self._check(ops, result)

    def _check(self, ops: list[_Op], result: Any) -> None:
        paths = [path for path, _d, _f in ops]
        if not result.ready() or not result.successful():
            self._lost(paths, result.exception)
        elif isinstance(result.value, list):
            self._report_broken(self._broken_fences(ops, result.value))
            errors = [e for e in result.value if isinstance(e, Exception)]
            real = [e for e in errors if not isinstance(e, k_exc.RolledBackError)]
            if errors:  # all or nothing: every write of the request is lost
                self._lost(paths, (real or errors)[0])

    def _lost(self, paths: list[str], error: BaseException | None) -> None:
        # Only in-flight states and progress are written behind; the next awaited write of the same
        # atom carries its whole state again, so a lost one costs freshness, not correctness.
        LOG.warning(
            "%d write-behind update(s) to ZooKeeper at %s lost (%s...): %r", len(paths), self.hosts, paths[0], error
        )
        for path in paths:
            self._on_lost_write(path)

    def _flush_loop(self) -> None:
        while True:
            with self._lock:
                while not self._buffer and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
            time.sleep(self.flush_delay)
            try:
                self.flush()
            except Exception:  # the thread must survive a bad moment; the next write reports it
                LOG.exception("write-behind flush to ZooKeeper at %s failed", self.hosts)
