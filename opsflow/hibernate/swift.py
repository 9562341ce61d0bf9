"""Swift through python-swiftclient, for one project's account, with swiftclient's errors mapped once.

A :class:`Swift` is made from an openstacksdk connection: swiftclient shares its keystoneauth
session, so tokens are renewed for long uploads and the object-store endpoint is the one of the
connection's region. swiftclient connections are not thread-safe; each thread gets its own.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol

from swiftclient import client as swift_client
from swiftclient.exceptions import ClientException

from opsflow.errors import ObjectStoreError

__all__ = ["Readable", "Swift"]

LOG = logging.getLogger(__name__)

#: Bytes per read when streaming an object.
READ_CHUNK = 1 << 20


class Readable(Protocol):
    """A file-like body: ``read(size)`` until it returns nothing."""

    def read(self, size: int = -1) -> bytes | memoryview:
        """Up to ``size`` bytes."""


@contextlib.contextmanager
def _mapped(what: str) -> Iterator[None]:
    """Turn a swiftclient failure into ObjectStoreError naming ``what`` and the HTTP status."""
    try:
        yield
    except ClientException as exc:
        status = exc.http_status or 0
        hint = {401: "the token was refused: check the cloud's credentials",
                403: "this project may not do that: only the owner's project and admins may",
                404: "it does not exist"}.get(status, exc.http_reason or str(exc))
        raise ObjectStoreError(f"Swift: {what} failed (HTTP {status}): {hint}", status=status) from exc


class Swift:
    """The object store of one project, as the identity of an openstacksdk connection sees it."""

    def __init__(self, sdk_connection: Any) -> None:
        self._session = sdk_connection.session
        self._os_options = {"region_name": sdk_connection.config.region_name,
                            "endpoint_type": sdk_connection.config.get_interface() or "public"}
        self._local = threading.local()

    def client(self) -> swift_client.Connection:
        """This thread's swiftclient connection (made on first use)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = swift_client.Connection(session=self._session, os_options=dict(self._os_options),
                                           retries=3)
            self._local.conn = conn
        return conn

    @property
    def account_url(self) -> str:
        """The storage URL (``.../v1/AUTH_<project id>``)."""
        with _mapped("finding the object-store endpoint"):
            url, _token = self.client().get_auth()
        return str(url)

    # -- containers -----------------------------------------------------------------------

    def ensure_container(self, container: str, read_acl: str, write_acl: str = "") -> None:
        """Create ``container`` if missing and set its ACLs (an existing public ACL is replaced)."""
        with _mapped(f"creating container {container!r}"):
            self.client().put_container(container, headers={"X-Container-Read": read_acl,
                                                           "X-Container-Write": write_acl})

    def container_acls(self, container: str) -> tuple[str, str]:
        """(read ACL, write ACL) of ``container``."""
        with _mapped(f"reading container {container!r}"):
            headers = self.client().head_container(container)
        return headers.get("x-container-read", ""), headers.get("x-container-write", "")

    def names(self, container: str, prefix: str = "") -> list[str]:
        """Every object name in ``container`` under ``prefix`` (all pages); [] if there is no container."""
        with _mapped(f"listing {container!r}"):
            try:
                _headers, listing = self.client().get_container(container, prefix=prefix, full_listing=True)
            except ClientException as exc:
                if exc.http_status == 404:
                    return []
                raise
        return [item["name"] for item in listing]

    # -- objects --------------------------------------------------------------------------

    def head(self, container: str, name: str) -> dict[str, str] | None:
        """The object's headers, or None when it does not exist."""
        with _mapped(f"reading {container}/{name}"):
            try:
                headers: dict[str, str] = self.client().head_object(container, name)
            except ClientException as exc:
                if exc.http_status == 404:
                    return None
                raise
        return headers

    def put(self, container: str, name: str, data: bytes | Iterable[bytes] | Readable, *,
            headers: Mapping[str, str] | None = None, etag: str | None = None, query: str | None = None,
            content_length: int | None = None) -> str:
        """Store an object (bytes, a chunk iterator, or a file-like of ``content_length`` bytes, which
        swiftclient rewinds to retry when it has ``seek`` and ``tell``); returns the ETag Swift computed."""
        with _mapped(f"writing {container}/{name}"):
            return str(self.client().put_object(container, name, data, etag=etag, headers=dict(headers or {}),
                                                query_string=query, content_length=content_length))

    def post(self, container: str, name: str, headers: Mapping[str, str]) -> None:
        """Replace an object's metadata (every ``X-Object-Meta-*`` not given is dropped)."""
        with _mapped(f"updating {container}/{name}"):
            self.client().post_object(container, name, headers=dict(headers))

    def get(self, container: str, name: str, limit: int) -> bytes:
        """A small object's bytes; ObjectStoreError when it is larger than ``limit``."""
        headers, chunks = self.stream(container, name)
        data = bytearray()
        for chunk in chunks:
            data += chunk
            if len(data) > limit:
                raise ObjectStoreError(f"Swift: {container}/{name} is larger than {limit} bytes", status=0)
        return bytes(data)

    def stream(self, container: str, name: str, chunk: int = READ_CHUNK) -> tuple[dict[str, str], Iterator[bytes]]:
        """(headers, chunk iterator) of an object; a Static Large Object streams as one body."""
        with _mapped(f"reading {container}/{name}"):
            headers, body = self.client().get_object(container, name, resp_chunk_size=chunk)
        return headers, _mapped_iter(body, f"reading {container}/{name}")

    def delete(self, container: str, name: str, *, query: str | None = None) -> bool:
        """Delete an object (``query="multipart-manifest=delete"`` takes an SLO's segments too);
        False when it was already gone."""
        with _mapped(f"deleting {container}/{name}"):
            try:
                self.client().delete_object(container, name, query_string=query)
            except ClientException as exc:
                if exc.http_status == 404:
                    return False
                raise
        return True


def _mapped_iter(body: Iterable[bytes], what: str) -> Iterator[bytes]:
    with _mapped(what):
        yield from body
