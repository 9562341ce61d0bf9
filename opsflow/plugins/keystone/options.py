"""The middleware's options, parsed once from strings (paste ``local_conf`` or an ini section).

Every option has a default an operator can live with; a bad value fails at start-up with the
option's name, never at the first login.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

__all__ = ["KeyOptions", "TotpOptions"]


def _int(conf: Mapping[str, str], name: str, default: int, low: int = 0) -> int:
    raw = conf.get(name)
    if raw is None or str(raw).strip() == "":
        return default
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ValueError(f"option {name} = {raw!r} is not a whole number") from None
    if value < low:
        raise ValueError(f"option {name} = {value} must be at least {low}")
    return value


def _list(conf: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in str(conf.get(name) or "").split(",") if v.strip())


def _bool(conf: Mapping[str, str], name: str, default: bool) -> bool:
    raw = str(conf.get(name, default)).strip().lower()
    if raw not in ("true", "false", "1", "0", "yes", "no"):
        raise ValueError(f"option {name} = {raw!r} is not true or false")
    return raw in ("true", "1", "yes")


@dataclasses.dataclass(frozen=True)
class TotpOptions:
    """``[opsflow_totp]``: the second factor in front of Keystone's token API."""

    #: memcached servers (HOST:PORT, comma separated) holding used passcodes and failure counts.
    memcache_servers: tuple[str, ...]
    #: Time steps (30 s each) before and after now a passcode may come from (clock drift).
    drift_past: int = 1
    drift_future: int = 1
    #: Failed passcodes (and replays) within ``lockout_seconds`` that lock the user out.
    lockout_failures: int = 5
    #: How long a lockout lasts, and the window failures are counted in.
    lockout_seconds: int = 300
    #: Users with any of these roles (names), in any of these projects or domains (ids or names),
    #: must use a second factor even before they enrolled.
    enforce_roles: tuple[str, ...] = ()
    enforce_projects: tuple[str, ...] = ()
    enforce_domains: tuple[str, ...] = ()
    #: Largest token request body read (the middleware runs before Keystone's sizelimit).
    max_body_bytes: int = 114688
    #: Said to users who must enroll: how to.
    enroll_hint: str = "run `opsflow totp enroll`"
    #: Issuer shown by authenticator apps.
    issuer: str = "OpenStack"

    @classmethod
    def from_mapping(cls, conf: Mapping[str, str]) -> TotpOptions:
        """Parse ``conf``; raises ValueError naming the bad option."""
        return cls(memcache_servers=_list(conf, "memcache_servers"),
                   drift_past=_int(conf, "drift_past", 1), drift_future=_int(conf, "drift_future", 1),
                   lockout_failures=_int(conf, "lockout_failures", 5, 1),
                   lockout_seconds=_int(conf, "lockout_seconds", 300, 1),
                   enforce_roles=_list(conf, "enforce_roles"), enforce_projects=_list(conf, "enforce_projects"),
                   enforce_domains=_list(conf, "enforce_domains"),
                   max_body_bytes=_int(conf, "max_body_bytes", 114688, 1024),
                   enroll_hint=str(conf.get("enroll_hint") or cls.enroll_hint),
                   issuer=str(conf.get("issuer") or cls.issuer))


@dataclasses.dataclass(frozen=True)
class KeyOptions:
    """``[opsflow_keys]`` and the access-key filters' options."""

    #: Longest lifetime a key may be given at creation (days).
    max_expiry_days: int = 365
    #: Whether keys without an expiry date are accepted at all.
    allow_no_expiry: bool = False
    #: Seconds a key lookup (and the token made for it) is cached: the bound on how long a
    #: revoked key keeps working.
    cache_seconds: int = 10
    #: Seconds a signed request's timestamp may lie before or after now.
    max_skew_seconds: int = 300
    #: Largest body the SigV4 filter hashes to check a signature.
    max_body_bytes: int = 1 << 20

    @classmethod
    def from_mapping(cls, conf: Mapping[str, str]) -> KeyOptions:
        """Parse ``conf``; raises ValueError naming the bad option."""
        return cls(max_expiry_days=_int(conf, "max_expiry_days", 365, 1),
                   allow_no_expiry=_bool(conf, "allow_no_expiry", False),
                   cache_seconds=_int(conf, "cache_seconds", 10, 0),
                   max_skew_seconds=_int(conf, "max_skew_seconds", 300, 1),
                   max_body_bytes=_int(conf, "max_body_bytes", 1 << 20, 1024))
