"""Every secret comparison of the middleware goes through :func:`hmac.compare_digest`, with no early exit.

A comparison that stops at the first differing byte (``==``) tells an attacker, by its timing, how
much of a guess was right. These tests count the calls of ``hmac.compare_digest`` (wrapped, still
doing the comparison) while the checks run, and that a match found early still compares the rest.
"""

from __future__ import annotations

import hmac
import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from opsflow.plugins.keystone import otp, sigv4
from opsflow.plugins.keystone.access_keys import AccessKey, KeyStatus
from opsflow.plugins.keystone.options import KeyOptions

NOW = 1_800_000_000.0


@pytest.fixture
def compared(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[bytes, bytes]]]:
    """The arguments of every ``hmac.compare_digest`` call made while the test runs."""
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def counting(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    yield calls


def test_passcodes_are_compared_in_constant_time_over_the_whole_window(compared: list[Any]) -> None:
    """Two devices, a window of 3 steps: six comparisons, although the first one matched."""
    one, two = otp.new_secret(), otp.new_secret()
    match = otp.match_passcode([one, two], otp.passcode_at(one, NOW - 30), NOW, 1, 1)
    assert match is not None and match.secret_index == 0
    assert len(compared) == 6


def test_recovery_codes_are_compared_in_constant_time_against_every_hash(compared: list[Any]) -> None:
    """A recovery code is compared, by its hash, with each stored hash, even after a match."""
    codes = otp.generate_recovery_codes(5)
    hashes = [otp.hash_recovery_code(c) for c in codes]
    assert otp.match_recovery_code(hashes, codes[0]) == hashes[0]
    assert len(compared) == 5


class _Gate:
    """Stand-in for KeyGate (no Keystone, no memcached): runs the filter's verify with the key's
    secret the way :meth:`KeyGate.admit` does, and hands out a token."""

    def __init__(self, secret: str) -> None:
        self.options = KeyOptions()
        self.secret = secret
        self.lookup = self
        self.verified: list[bool] = []

    def admit(self, access: str, signed_at: float | None, sig: str, verify: Callable[[str], bool],
              address: str, request_id: str = "") -> AccessKey:
        self.verified.append(verify(self.secret))
        return AccessKey("id", access, self.secret, "u", "p", KeyStatus.ACTIVE, None)

    def token(self, access: str, credentials: dict[str, Any]) -> str:
        return "token"


def test_sigv4_signatures_are_compared_in_constant_time(compared: list[Any]) -> None:
    """The SigV4 filter compares the recomputed signature with the request's through compare_digest."""
    req = AWSRequest(method="GET", url="http://127.0.0.1:19311/v2.1/servers")
    SigV4Auth(Credentials("AKID", "s3cr3t"), "compute", "source").add_auth(req)
    environ: dict[str, Any] = {"REQUEST_METHOD": "GET", "PATH_INFO": "/v2.1/servers", "QUERY_STRING": "",
                               "SCRIPT_NAME": "", "HTTP_HOST": "127.0.0.1:19311", "wsgi.input": io.BytesIO(b""),
                               "CONTENT_LENGTH": "0"}
    for name, value in req.headers.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    gate = _Gate("s3cr3t")
    sigv4.SigV4Filter(lambda env, start: [b""], gate)(environ, lambda *a: None)  # type: ignore[arg-type]
    assert gate.verified == [True]
    assert [b for _, b in compared] == [str(req.headers["Authorization"]).rsplit("=", 1)[1].encode()]
