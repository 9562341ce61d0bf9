"""Replay and lockout state shared by every API worker and process: memcached.

memcached's ``add`` is atomic and fails when the key exists, so "this passcode (or signature) is
used now" is one round trip that exactly one of two racing workers wins, and the entry expires by
itself once the passcode could no longer be valid anyway. Keys are hashed: they would otherwise
carry user ids and signatures into memcached's key space, and memcached refuses spaces and long
keys. The store fails closed: when memcached cannot be reached, callers refuse the request
(:class:`StoreUnavailable`), because accepting it would silently drop replay protection.

It speaks memcached's text protocol itself instead of going through python-memcached, because the
middleware's added latency is its round trips (profiled: ~3 per token request, each a wake-up of
memcached and of the worker, which on a loaded host is where the p99 went):

* commands that one check needs together are pipelined: sent in one write, their replies read in
  order — the TOTP guard's "mark this passcode used" and "read the failure counter" are one round
  trip, as are ``add`` and the ``get`` that tells a replay from the same request seen twice;
* a failed ``add`` is told from an outage by the socket error, not by a second ``get``;
* connections are pooled per server and shared by whoever runs next — OS threads (Keystone under
  gunicorn) and eventlet green threads (Swift's proxy, where a thread-local client meant a new
  connection for every request) alike.

Servers are chosen by python-memcached's hash (crc32 of the key), so a deployment that lists the
same servers everywhere sends a key to the same server from every process.
"""

from __future__ import annotations

import binascii
import collections
import hashlib
import socket
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["MemcacheStore", "StoreUnavailable"]


class StoreUnavailable(Exception):
    """memcached did not answer; the middleware refuses rather than accept a possible replay."""


class _Closed(ConnectionError):
    """The server closed the connection (read returned nothing)."""


class _ProtocolError(ValueError):
    """A reply that is not what the command expects: the connection is out of step."""


class _Connection:
    """One TCP connection to a memcached server, with a read buffer for line-oriented replies."""

    def __init__(self, address: tuple[str, int], timeout: float) -> None:
        self.sock = socket.create_connection(address, timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def line(self) -> bytes:
        """The next reply line, without its CRLF."""
        while True:
            end = self.buf.find(b"\r\n")
            if end >= 0:
                line, self.buf = self.buf[:end], self.buf[end + 2:]
                return line
            self._fill()

    def exact(self, size: int) -> bytes:
        """The next ``size`` bytes and the CRLF after them."""
        while len(self.buf) < size + 2:
            self._fill()
        data, self.buf = self.buf[:size], self.buf[size + 2:]
        return data

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise _Closed("memcached closed the connection")
        self.buf += chunk

    def close(self) -> None:
        """Close the socket (a connection whose replies are out of step is never reused)."""
        try:
            self.sock.close()
        except OSError:
            pass


#: A reply reader: consumes one command's reply from the connection and returns its meaning.
_Reader = Callable[[_Connection], Any]


def _stored(conn: _Connection) -> bool:
    line = conn.line()
    if line in (b"STORED", b"NOT_STORED"):
        return line == b"STORED"
    raise _ProtocolError(f"memcached answered {line[:80]!r} to a store")


def _value(conn: _Connection) -> str | None:
    found: str | None = None
    while True:
        line = conn.line()
        if line == b"END":
            return found
        parts = line.split()
        if len(parts) < 4 or parts[0] != b"VALUE":
            raise _ProtocolError(f"memcached answered {line[:80]!r} to a get")
        found = conn.exact(int(parts[3])).decode()


def _number(conn: _Connection) -> int | None:
    line = conn.line()
    if line == b"NOT_FOUND":
        return None
    if not line.isdigit():
        raise _ProtocolError(f"memcached answered {line[:80]!r} to an incr")
    return int(line)


def _deleted(conn: _Connection) -> bool:
    line = conn.line()
    if line in (b"DELETED", b"NOT_FOUND"):
        return line == b"DELETED"
    raise _ProtocolError(f"memcached answered {line[:80]!r} to a delete")


def _storage(cmd: str, key: str, value: str, ttl: int) -> bytes:
    data = value.encode()
    return f"{cmd} {key} 0 {max(1, ttl)} {len(data)}\r\n".encode() + data + b"\r\n"


class MemcacheStore:
    """First-use marks and failure counters in memcached, namespaced by :attr:`PREFIX`."""

    #: Namespace of every key, so opsflow's entries never meet Swift's or Keystone's.
    PREFIX = "opsflow-auth"
    #: Idle connections kept per server; more are opened under a burst and closed after it.
    POOL_SIZE = 32

    def __init__(self, servers: Sequence[str], timeout: float = 1.0) -> None:
        if not servers:
            raise ValueError("memcache_servers is empty: replay protection needs a shared store "
                             "(memcached HOST:PORT)")
        self._servers = list(servers)
        self._addresses = []
        for server in self._servers:
            host, _, port = server.rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"memcache_servers entry {server!r} is not HOST:PORT")
            self._addresses.append((host, int(port)))
        self._timeout = timeout
        # deque.append/pop are atomic: safe for OS threads and green threads without a lock
        self._idle: list[collections.deque[_Connection]] = [collections.deque() for _ in self._servers]

    # -- the operations the middleware uses ---------------------------------------------------

    def first_use(self, kind: str, ttl: int, *parts: str, owner: str = "") -> bool:
        """Mark ``parts`` as used for ``ttl`` seconds; True only for the first caller.

        ``owner`` names the request: a proxy that checks one client request several times (Swift's
        s3api runs its subrequests through the pipeline with the same signature) passes its
        transaction id, so only another request with the same parts counts as a replay. With an
        owner the mark's holder is read in the same round trip.
        """
        key, mark = self._key(kind, *parts), owner or "-"
        if not owner:
            (added,) = self._batch([(key, _storage("add", key, mark, ttl), _stored)])
            return bool(added)
        added, held = self._batch([(key, _storage("add", key, mark, ttl), _stored),
                                   (key, f"get {key}\r\n".encode(), _value)])
        return bool(added) or held == owner

    def first_use_and_count(self, kind: str, ttl: int, parts: Sequence[str],
                            counter: Sequence[str]) -> tuple[bool, int]:
        """:meth:`first_use` of ``parts`` and :meth:`count` of the ``counter`` key, in one round trip."""
        key, count_key = self._key(kind, *parts), self._key(*counter)
        added, value = self._batch([(key, _storage("add", key, "-", ttl), _stored),
                                    (count_key, f"get {count_key}\r\n".encode(), _value)])
        return bool(added), int(value) if value else 0

    def count(self, kind: str, *parts: str) -> int:
        """The current value of a counter (0 when unset or expired)."""
        value = self.get(kind, *parts)
        return int(value) if value else 0

    def bump(self, kind: str, ttl: int, *parts: str) -> int:
        """Add one to a counter that expires ``ttl`` seconds after its first bump; return it."""
        key = self._key(kind, *parts)
        incr = (key, f"incr {key} 1\r\n".encode(), _number)
        (value,) = self._batch([incr])
        if value is None:  # none yet: create it; a racing creator may win, then count on its entry
            (added,) = self._batch([(key, _storage("add", key, "1", ttl), _stored)])
            (value,) = (1,) if added else self._batch([incr])
        if value is None:
            raise StoreUnavailable(f"memcached lost the counter {kind} just written")
        return int(value)

    def forget(self, kind: str, *parts: str) -> None:
        """Remove one entry (a counter reset by a successful login)."""
        key = self._key(kind, *parts)
        self._batch([(key, f"delete {key}\r\n".encode(), _deleted)])

    def set(self, kind: str, ttl: int, value: str, *parts: str) -> None:
        """Store ``value`` for ``ttl`` seconds (last-use records)."""
        key = self._key(kind, *parts)
        self._batch([(key, _storage("set", key, value, ttl), _stored)])

    def get(self, kind: str, *parts: str) -> str | None:
        """The value :meth:`set` stored, or None."""
        key = self._key(kind, *parts)
        (value,) = self._batch([(key, f"get {key}\r\n".encode(), _value)])
        return value if value is None else str(value)

    # -- the protocol -------------------------------------------------------------------------

    def _key(self, kind: str, *parts: str) -> str:
        digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()
        return f"{self.PREFIX}:{kind}:{digest}"

    def _server(self, key: str) -> int:
        # python-memcached's cmemcache_hash, so both clients agree on where a key lives
        return (((binascii.crc32(key.encode()) & 0xffffffff) >> 16) & 0x7fff) % len(self._servers)

    def _batch(self, commands: Sequence[tuple[str, bytes, _Reader]]) -> list[Any]:
        """Run ``(key, command, reader)`` triples, pipelined per server; their results in order."""
        results: list[Any] = [None] * len(commands)
        by_server: dict[int, list[int]] = {}
        for index, (key, _, _) in enumerate(commands):
            by_server.setdefault(self._server(key), []).append(index)
        for server, indexes in by_server.items():
            payload = b"".join(commands[i][1] for i in indexes)
            conn, pooled = self._acquire(server)
            try:
                replies = self._exchange(conn, payload, [commands[i][2] for i in indexes])
            except (_Closed, ConnectionResetError, BrokenPipeError, ConnectionAbortedError) as exc:
                conn.close()
                if not pooled:
                    raise StoreUnavailable(f"memcached {self._servers[server]} did not answer: {exc}") from None
                # an idle connection the server closed (a memcached restart): nothing was run, so
                # sending again on a fresh one cannot count a command twice
                conn, _ = self._acquire(server, fresh=True)
                replies = self._exchange(conn, payload, [commands[i][2] for i in indexes], server)
            except (OSError, ValueError) as exc:  # timeouts, protocol errors: never retried
                conn.close()
                raise StoreUnavailable(f"memcached {self._servers[server]} did not answer: {exc}") from None
            for i, reply in zip(indexes, replies):
                results[i] = reply
            self._release(server, conn)
        return results

    def _exchange(self, conn: _Connection, payload: bytes, readers: Sequence[_Reader],
                  server: int | None = None) -> list[Any]:
        """Send ``payload`` and read one reply per reader; with ``server``, failures are final."""
        try:
            conn.sock.sendall(payload)
            return [read(conn) for read in readers]
        except (OSError, ValueError) as exc:
            if server is None:
                raise
            conn.close()
            raise StoreUnavailable(f"memcached {self._servers[server]} did not answer: {exc}") from None

    def _acquire(self, server: int, fresh: bool = False) -> tuple[_Connection, bool]:
        """A connection to ``server`` and whether it came from the pool (it may be stale)."""
        if not fresh:
            try:
                return self._idle[server].pop(), True
            except IndexError:
                pass
        try:
            return _Connection(self._addresses[server], self._timeout), False
        except OSError as exc:
            raise StoreUnavailable(f"memcached {self._servers[server]} did not answer: {exc}") from None

    def _release(self, server: int, conn: _Connection) -> None:
        if conn.buf or len(self._idle[server]) >= self.POOL_SIZE:
            conn.close()  # unread bytes would answer the next caller's command
        else:
            self._idle[server].append(conn)
