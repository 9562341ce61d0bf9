"""Access keys: Keystone ``ec2`` credentials with an expiry, a status and a description.

Keystone's ``ec2`` credential blob is ``{access, secret, trust_id}``; it keeps extra fields
verbatim and ignores them (shared/TESTBED.md). opsflow adds ``expires_at`` (epoch seconds, or
null where the operator allows keys that never expire), ``status`` (``active``, ``inactive`` —
revoked or deactivated by a rotation —, ``expired`` — set by the sweep), ``created_at``,
``description`` and ``tag`` (the run and task that made it). The credential's id is
sha256(access), which is how both filters and ec2tokens find it from a signed request.

:func:`refusal` is the one place that decides whether a key may be used now; both filters and the
credential guard in Keystone call it. :class:`KeyLookup` reads keys through Keystone's API with
service credentials and caches them (and the token made for each) for ``cache_seconds``, the bound
on how long a revoked key keeps working.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from opsflow.plugins.keystone.options import KeyOptions
from opsflow.plugins.keystone.replies import Reason
from opsflow.plugins.keystone.store import MemcacheStore

__all__ = ["AccessKey", "KeyGate", "KeyLookup", "KeyRefused", "KeyStatus", "credential_id", "refusal",
           "service_session"]

#: The credential type Keystone (ec2tokens, s3token) reads access keys from.
EC2_TYPE = "ec2"


class KeyStatus(enum.Enum):
    """Whether a key may be used."""

    ACTIVE = "active"
    #: Revoked by its owner or an operator, or deactivated at the end of a rotation's grace period.
    INACTIVE = "inactive"
    #: Past its expiry date and marked so by the sweep (an expired key is refused either way).
    EXPIRED = "expired"


def credential_id(access: str) -> str:
    """Keystone's id of the ``ec2`` credential of ``access``."""
    return hashlib.sha256(access.encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class AccessKey:
    """One access key as stored in Keystone."""

    credential_id: str
    access: str
    secret: str
    user_id: str
    project_id: str
    status: KeyStatus
    #: Epoch seconds; None: never expires (only where the operator allows it).
    expires_at: float | None
    created_at: float | None = None
    description: str = ""
    tag: str = ""

    @classmethod
    def from_credential(cls, cred: Mapping[str, Any]) -> AccessKey:
        """Read a credential as Keystone's API returns it (the blob is a JSON string)."""
        blob = json.loads(cred["blob"]) if isinstance(cred["blob"], str) else dict(cred["blob"])
        expires = blob.get("expires_at")
        created = blob.get("created_at")
        return cls(credential_id=str(cred["id"]), access=str(blob["access"]), secret=str(blob["secret"]),
                   user_id=str(cred["user_id"]), project_id=str(cred.get("project_id") or ""),
                   status=KeyStatus(blob.get("status", KeyStatus.ACTIVE.value)),
                   expires_at=None if expires is None else float(expires),
                   created_at=None if created is None else float(created),
                   description=str(blob.get("description") or ""), tag=str(blob.get("tag") or ""))

    def blob(self) -> dict[str, Any]:
        """The blob to store (Keystone's three fields first, then opsflow's)."""
        return {"access": self.access, "secret": self.secret, "trust_id": None, "status": self.status.value,
                "expires_at": self.expires_at, "created_at": self.created_at,
                "description": self.description, "tag": self.tag}


def refusal(key: AccessKey | None, now: float, options: KeyOptions) -> tuple[Reason, str] | None:
    """Why ``key`` may not be used at ``now``, or None when it may."""
    if key is None:
        return Reason.KEY_UNKNOWN, "no such access key (never created, or deleted)"
    if key.status is KeyStatus.INACTIVE:
        return Reason.KEY_REVOKED, f"access key {key.access} was revoked; create a new one with `opsflow keys create`"
    if key.status is KeyStatus.EXPIRED or (key.expires_at is not None and now >= key.expires_at):
        return Reason.KEY_EXPIRED, f"access key {key.access} has expired; create a new one with `opsflow keys create`"
    if key.expires_at is None and not options.allow_no_expiry:
        return Reason.KEY_NO_EXPIRY, (f"access key {key.access} has no expiry date, which this cloud does not "
                                      "accept; create one with `opsflow keys create --expires 90d`")
    return None


def service_session(conf: Mapping[str, str]) -> Any:
    """A keystoneauth session as the filter's service user (paste options ``auth_url``, ``username``...)."""
    from keystoneauth1 import loading, session

    auth: Any = loading.get_plugin_loader("password").load_from_options(
        auth_url=conf["auth_url"], username=conf["username"], password=conf["password"],
        project_name=conf.get("project_name", "service"),
        user_domain_name=conf.get("user_domain_name", "Default"),
        project_domain_name=conf.get("project_domain_name", "Default"))
    return session.Session(auth=auth)


class KeyLookup:
    """Reads keys from Keystone (``GET /v3/credentials/{id}``) and caches them for ``cache_seconds``."""

    def __init__(self, session: Any, auth_url: str, options: KeyOptions,
                 clock: Any = time.monotonic) -> None:
        self._session = session
        self._auth_url = auth_url.rstrip("/")
        self._options = options
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[float, AccessKey | None]] = {}
        self._tokens: dict[str, tuple[float, str]] = {}

    def get(self, access: str) -> AccessKey | None:
        """The key ``access`` names, or None when Keystone has no such ``ec2`` credential."""
        now = self._clock()
        with self._lock:
            hit = self._keys.get(access)
        if hit is not None and hit[0] > now:
            return hit[1]
        resp = self._session.get(f"{self._auth_url}/credentials/{credential_id(access)}", raise_exc=False)
        key: AccessKey | None = None
        if resp.status_code == 200:
            cred = resp.json()["credential"]
            if cred.get("type") == EC2_TYPE:
                key = AccessKey.from_credential(cred)
        elif resp.status_code != 404:
            raise RuntimeError(f"Keystone answered {resp.status_code} to an access-key lookup")
        with self._lock:
            self._keys[access] = (now + self._options.cache_seconds, key)
        return key

    def token(self, access: str, credentials: dict[str, Any]) -> str | None:
        """A token for the key's owner from ``POST /v3/ec2tokens`` (cached like the key)."""
        now = self._clock()
        with self._lock:
            hit = self._tokens.get(access)
        if hit is not None and hit[0] > now:
            return hit[1]
        resp = self._session.post(f"{self._auth_url}/ec2tokens", json={"credentials": credentials},
                                  raise_exc=False)
        if resp.status_code not in (200, 201):
            return None
        token = str(resp.headers["X-Subject-Token"])
        with self._lock:
            self._tokens[access] = (now + self._options.cache_seconds, token)
        return token


class KeyRefused(Exception):
    """A signed request the gate refuses: HTTP code, reason and a message for the client."""

    def __init__(self, code: int, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


class KeyGate:
    """The checks both filters make, in order: time, key, signature, replay; then records the use."""

    #: Seconds a key's last use (time and address) is remembered in the store.
    LAST_USED_SECONDS = 90 * 86400
    #: A process writes a key's last use at most this often (or when the address changes): the
    #: time ``keys list`` shows is this exact, and a busy key costs no second round trip per request.
    LAST_USED_RESOLUTION = 60.0
    #: Keys whose last write a process remembers before it starts over.
    _LAST_USED_MEMORY = 10000

    def __init__(self, options: KeyOptions, lookup: KeyLookup, store: MemcacheStore,
                 clock: Callable[[], float] = time.time) -> None:
        self.options = options
        self.lookup = lookup
        self.store = store
        self.clock = clock
        self._written: dict[str, tuple[float, str]] = {}

    @classmethod
    def from_paste(cls, conf: Mapping[str, str]) -> KeyGate:
        """Built from a filter's paste options (service credentials, ``memcache_servers``, limits)."""
        options = KeyOptions.from_mapping(conf)
        servers = [s.strip() for s in conf.get("memcache_servers", "").split(",") if s.strip()]
        return cls(options, KeyLookup(service_session(conf), conf["auth_url"], options), MemcacheStore(servers))

    def admit(self, access: str, signed_at: float | None, sig: str, verify: Callable[[str], bool],
              address: str, request_id: str = "") -> AccessKey:
        """The key, if the request may go on; raises :class:`KeyRefused` (or StoreUnavailable).

        ``request_id``: the proxy's id of the client request, when it checks one request more than
        once (see :meth:`MemcacheStore.first_use`).
        """
        now = self.clock()
        limit = self.options.max_skew_seconds
        if signed_at is not None and abs(signed_at - now) > limit:
            skew = signed_at - now
            raise KeyRefused(401, Reason.REQUEST_TIME_SKEWED,
                             f"the request is signed {abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} "
                             f"this server's clock (at most {limit} s allowed); check the client's clock")
        key = self.lookup.get(access)
        why = refusal(key, now, self.options)
        if why is not None or key is None:
            reason, message = why or (Reason.KEY_UNKNOWN, "no such access key")
            raise KeyRefused(401, reason, message)
        if not verify(key.secret):
            raise KeyRefused(401, Reason.SIGNATURE_MISMATCH,
                             "the signature does not match: the request was changed after signing, or "
                             "signed with another secret")
        if not self.store.first_use("signature", 2 * limit, access, sig, owner=request_id):
            raise KeyRefused(401, Reason.SIGNATURE_REPLAYED, "this signed request was already used; sign a new one")
        self._record_use(access, address, now)
        return key

    def _record_use(self, access: str, address: str, now: float) -> None:
        last = self._written.get(access)
        if last is not None and last[1] == address and now - last[0] < self.LAST_USED_RESOLUTION:
            return
        if len(self._written) >= self._LAST_USED_MEMORY:
            self._written.clear()
        self._written[access] = (now, address)
        self.store.set("used", self.LAST_USED_SECONDS, f"{now:.0f} {address}", access)
