"""Keep links: signed, expiring, one-time; the endpoint refuses forged, expired and used ones with 403."""

import io
from pathlib import Path
from typing import Any

import pytest

from opsflow.reclaim import links
from opsflow.reclaim.audit import open_store

KEY = b"0123456789abcdef0123"
NOW = 1_800_000_000.0


def _call(app: Any, method: str, token: str) -> tuple[str, str]:
    seen: dict[str, str] = {}
    body = f"t={token}".encode()
    environ = {"PATH_INFO": "/keep", "REQUEST_METHOD": method, "QUERY_STRING": f"t={token}",
               "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)}
    out = b"".join(app(environ, lambda status, headers: seen.setdefault("status", status)))
    return seen["status"], out.decode()


def test_a_signed_link_verifies_and_carries_what_it_keeps() -> None:
    """Server, run, days and expiry come back from the token."""
    token = links.new_link(KEY, "srv", "run", 30, NOW + 60)
    link = links.verify(KEY, token, NOW)
    assert (link.server, link.run_id, link.action, link.days) == ("srv", "run", "keep", 30)


@pytest.mark.parametrize(("tamper", "says"), [
    (lambda t: t[:-1] + ("0" if t[-1] != "0" else "1"), "signature does not match"),
    (lambda t: links.sign(b"another key of sixteen", links.verify(KEY, t, NOW)), "signature does not match"),
    (lambda t: "garbage", "signature does not match"),
])
def test_a_forged_link_is_refused(tamper: Any, says: str) -> None:
    """A changed token or another key fails the HMAC check."""
    token = tamper(links.new_link(KEY, "srv", "run", 30, NOW + 60))
    with pytest.raises(links.LinkRefused, match=says):
        links.verify(KEY, token, NOW)


def test_the_endpoint_keeps_once_and_refuses_forged_expired_and_reused_links(tmp_path: Path) -> None:
    """GET only shows; POST keeps; a second POST, an expired and a forged token get 403 and a sentence."""
    kept: list[str] = []
    with open_store(f"sqlite:///{tmp_path}/state.db") as store:
        def keeper(link: links.Link) -> str:
            if not store.use_nonce(link.nonce):
                raise links.LinkRefused("this keep link was used already; each link works once")
            kept.append(link.server)
            return f"server {link.server} is kept"

        app = links.application(KEY, keeper, lambda: NOW)
        token = links.new_link(KEY, "srv", "run", 30, NOW + 60)
        assert _call(app, "GET", token)[0] == "200 OK" and kept == []
        assert _call(app, "POST", token) == ("200 OK", "<p>server srv is kept</p>")
        status, body = _call(app, "POST", token)
        assert status.startswith("403") and "used already" in body
        expired = links.new_link(KEY, "srv", "run", 30, NOW - 1)
        status, body = _call(app, "POST", expired)
        assert status.startswith("403") and "expired" in body
        status, body = _call(app, "POST", token.replace(".", ".0", 1)[:len(token)])
        assert status.startswith("403") and "signature does not match" in body
        assert kept == ["srv"]
