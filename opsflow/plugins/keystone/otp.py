"""TOTP passcodes (RFC 6238: secrets and URIs by pyotp, passcodes computed here) and recovery codes.

Shared by the middleware (inside Keystone) and the enrollment actions (in opsflow), so both agree
on what a valid code is. Every comparison is constant-time: each candidate passcode in the window
is compared with :func:`hmac.compare_digest` and the loop never stops early, and recovery codes are
compared by their hashes, also without stopping at the first match.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence

import pyotp

__all__ = [
    "DIGITS",
    "STEP",
    "Match",
    "generate_recovery_codes",
    "hash_recovery_code",
    "is_recovery_code",
    "match_passcode",
    "match_recovery_code",
    "new_secret",
    "passcode_at",
    "provisioning_uri",
]

#: Digits of a passcode and seconds per step: what Keystone's own totp method and every
#: authenticator app use.
DIGITS = 6
STEP = 30
#: Recovery codes: groups of base32 characters (80 bits in all), easy to read out and type.
_RECOVERY_GROUPS = 4
_RECOVERY_GROUP_LEN = 4


@dataclasses.dataclass(frozen=True)
class Match:
    """A passcode that matched: which secret and which time step (the replay key)."""

    #: Index of the secret that matched, in the order given.
    secret_index: int
    #: The TOTP counter (time step) it belongs to.
    counter: int
    #: The same secret's passcode of the current step (what Keystone, which knows no drift
    #: beyond one step back, is handed).
    current: str


def new_secret() -> str:
    """A fresh random base32 secret (160 bits, RFC 4226's recommendation)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """The ``otpauth://totp/...`` URI authenticator apps read from a QR code."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP).provisioning_uri(name=account, issuer_name=issuer)


def _key(secret: str) -> bytes:
    """The HMAC key of a base32 secret, padded as pyotp pads it."""
    return base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)


def _hotp(key: bytes, counter: int) -> str:
    """RFC 4226's passcode of ``counter`` (HMAC-SHA1, dynamic truncation), as pyotp computes it.

    Done here rather than through pyotp, which decodes the base32 secret again for every step of
    the window: that decoding was most of the guard's own CPU time per login.
    """
    digest = hmac.digest(key, counter.to_bytes(8, "big"), "sha1")
    offset = digest[-1] & 0x0F
    code = int.from_bytes(digest[offset:offset + 4], "big") & 0x7FFFFFFF
    return str(code % 10**DIGITS).zfill(DIGITS)


def passcode_at(secret: str, when: float) -> str:
    """The passcode of ``secret`` at time ``when``."""
    return _hotp(_key(secret), int(when) // STEP)


def match_passcode(secrets_: Sequence[str], passcode: str, now: float, past: int, future: int) -> Match | None:
    """The secret and step ``passcode`` belongs to, within ``past`` steps before and ``future`` after now."""
    if len(passcode) != DIGITS or not passcode.isdigit():
        return None
    current = int(now) // STEP
    found: Match | None = None
    given = passcode.encode()
    for index, secret in enumerate(secrets_):
        key = _key(secret)
        for counter in range(current - past, current + future + 1):
            # no early exit: the time taken does not tell which step or secret matched
            if hmac.compare_digest(_hotp(key, counter).encode(), given) and found is None:
                found = Match(index, counter, _hotp(key, current))
    return found


def generate_recovery_codes(count: int) -> list[str]:
    """``count`` random recovery codes such as ``K7QX-2M4D-...`` (80 bits each)."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return ["-".join("".join(secrets.choice(alphabet) for _ in range(_RECOVERY_GROUP_LEN))
                     for _ in range(_RECOVERY_GROUPS)) for _ in range(count)]


def _normal(code: str) -> str:
    return code.replace("-", "").replace(" ", "").upper()


def is_recovery_code(text: str) -> bool:
    """Whether ``text`` has the shape of a recovery code (not of a 6-digit passcode)."""
    code = _normal(text)
    return len(code) == _RECOVERY_GROUPS * _RECOVERY_GROUP_LEN and code.isalnum()


def hash_recovery_code(code: str) -> str:
    """The stored form of a recovery code. Plain SHA-256 suffices: the codes are 80 random bits,
    beyond brute force, so a slow password hash would only slow every login down."""
    return hashlib.sha256(_normal(code).encode()).hexdigest()


def match_recovery_code(hashes: Iterable[str], code: str) -> str | None:
    """The stored hash ``code`` matches, or None; compares against every hash."""
    given = hash_recovery_code(code).encode()
    found: str | None = None
    for stored in hashes:
        if hmac.compare_digest(stored.encode(), given) and found is None:
            found = stored
    return found
