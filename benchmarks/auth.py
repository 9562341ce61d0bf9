"""What opsflow's auth middleware adds to a request, with warm caches, against the same requests without it.

Measured in one run on the simulated cloud's real memcached (replay marks, failure counters) and
real Keystone (access-key lookups and ec2tokens, warmed once and then served from the filters'
cache), each middleware wrapped around the same trivial inner application:

* **TOTP guard** -- ``POST /v3/auth/tokens`` with password + passcode. Every request is a new
  (user, time step), so none is a replay: the full check runs (body read, passcode match over the
  drift window, atomic ``add`` in memcached, body rewrite). The user facts come from a stand-in
  directory holding them in memory, i.e. Keystone's own warm provider caches are not counted;
* **SigV4 filter** (before ``authtoken`` in nova) -- a botocore ``SigV4Auth``-signed ``GET``; each
  request signed anew (replays are refused): header parsing, signature recomputed and compared,
  the replay mark and last-use record in memcached, the cached key and token;
* **S3 key filter** (between s3api and s3token) -- the same checks on s3api's parsed details.

Validations per second (one thread) and latency added per request (p50/p99: with minus without,
each side's percentiles over the same number of requests). Goal: < 1 ms p99 added.

    python benchmarks/auth.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time
from collections.abc import Callable, Iterable
from typing import Any

import openstack
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from opsflow.devcloud.layout import SERVICE_PASSWORD, Layout
from opsflow.plugins.keystone import enrollment as enr
from opsflow.plugins.keystone import otp, sigv4
from opsflow.plugins.keystone.access_keys import AccessKey, KeyGate, KeyLookup, KeyStatus, service_session
from opsflow.plugins.keystone.directory import UserFacts
from opsflow.plugins.keystone.options import KeyOptions, TotpOptions
from opsflow.plugins.keystone.store import MemcacheStore
from opsflow.plugins.keystone.totp_guard import TotpGuard
from opsflow.plugins.swift.s3keys import S3KeyFilter

Environ = dict[str, Any]


def inner(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The application behind the middleware: reads the body, answers 201."""
    environ["wsgi.input"].read()
    start_response("201 Created", [("Content-Length", "0")])
    return [b""]


def _timed(app: Callable[..., Iterable[bytes]], environs: list[Environ]) -> list[float]:
    out = []
    statuses: list[str] = []
    for environ in environs:
        start = time.perf_counter()
        b"".join(app(environ, lambda status, headers, exc=None: statuses.append(status)))
        out.append(time.perf_counter() - start)
    bad = [s for s in statuses if not s.startswith(("200", "201"))]
    if bad:
        raise SystemExit(f"benchmark requests were refused: {bad[:3]}")
    return out


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


class _Facts:
    """Stand-in directory: one enrolled user per id, all with the same secret."""

    def __init__(self, secret: str) -> None:
        self.secret = secret

    def find_user(self, user: dict[str, Any]) -> str | None:
        return str(user["id"])

    def facts(self, user_id: str) -> UserFacts:
        return UserFacts(user_id, "default", "Default", frozenset({"member"}), frozenset(), (self.secret,),
                         enr.Enrollment(enr.EnrollmentState.ACTIVE), "rec")

    def save_enrollment(self, credential_id: str, enrollment: enr.Enrollment) -> None:
        """Unused: no recovery codes in the benchmark."""


def _token_request(user_id: str, passcode: str) -> Environ:
    body = json.dumps({"auth": {"identity": {"methods": ["password", "totp"],
                                             "password": {"user": {"id": user_id, "password": "x"}},
                                             "totp": {"user": {"id": user_id, "passcode": passcode}}}}}).encode()
    return {"REQUEST_METHOD": "POST", "PATH_INFO": "/v3/auth/tokens", "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body)}


def bench_totp(store: MemcacheStore, n: int) -> tuple[list[float], list[float]]:
    """(without, with) seconds per token request."""
    secret = otp.new_secret()
    code = otp.passcode_at(secret, time.time())
    run = time.time_ns()
    guard = TotpGuard(inner, TotpOptions(memcache_servers=()), _Facts(secret), store)
    # a code of the current step for a new user each time: never a replay, always the full check
    with_ = _timed(guard, [_token_request(f"bench-{run}-{i}", code) for i in range(n)])
    without = _timed(inner, [_token_request(f"bench-{run}-{i}", code) for i in range(n)])
    return without, with_


def _signed(key: AccessKey, port: int) -> tuple[Environ, bytes]:
    url = f"http://127.0.0.1:{port}/v2.1/servers"
    req = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials(key.access, key.secret), "compute", "source").add_auth(req)
    environ: Environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/v2.1/servers", "SCRIPT_NAME": "", "QUERY_STRING": "",
                        "HTTP_HOST": f"127.0.0.1:{port}", "wsgi.input": io.BytesIO(b""), "CONTENT_LENGTH": "0",
                        "REMOTE_ADDR": "127.0.0.1"}
    for name, value in req.headers.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ, b""


def bench_keys(layout: Layout, store: MemcacheStore, n: int) -> dict[str, tuple[list[float], list[float]]]:
    """(without, with) seconds per signed request for the SigV4 filter and the S3 key filter."""
    conn = openstack.connect(cloud="devcloud-source")
    now = time.time()
    key = AccessKey("", f"bench{time.time_ns()}", "benchsecret", conn.current_user_id, conn.current_project_id,
                    KeyStatus.ACTIVE, now + 3600, now, "benchmark")
    cred = conn.identity.post("/credentials", json={"credential": {
        "type": "ec2", "user_id": key.user_id, "project_id": key.project_id, "blob": json.dumps(key.blob())}}).json()
    try:
        conf = {"auth_url": layout.auth_url, "username": "nova", "password": SERVICE_PASSWORD}
        options = KeyOptions(cache_seconds=600)
        gate = KeyGate(options, KeyLookup(service_session(conf), layout.auth_url, options), store)
        nova_port = layout.region("source").nova_port
        filt = sigv4.SigV4Filter(inner, gate)
        _timed(filt, [_signed(key, nova_port)[0]])  # warm: key lookup and ec2tokens, cached from here on
        out = {"sigv4": (_timed(inner, [_signed(key, nova_port)[0] for _ in range(n)]),
                         _timed(filt, [_signed(key, nova_port)[0] for _ in range(n)]))}

        def s3_environ(i: int) -> Environ:
            sig = f"{time.time_ns()}-{i}"
            return {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "wsgi.input": io.BytesIO(b""), "REMOTE_ADDR": "127.0.0.1",
                    "HTTP_X_AMZ_DATE": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
                    "s3api.auth_details": {"access_key": key.access, "signature": sig, "string_to_sign": b"x",
                                           "check_signature": lambda secret: secret == key.secret}}

        s3 = S3KeyFilter(inner, gate)
        out["s3"] = (_timed(inner, [s3_environ(i) for i in range(n)]), _timed(s3, [s3_environ(i) for i in range(n)]))
        return out
    finally:
        conn.identity.delete(f"/credentials/{cred['credential']['id']}")
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="Requests per side and middleware.")
    args = parser.parse_args()
    layout = Layout.default()
    store = MemcacheStore([f"127.0.0.1:{layout.memcached_port}"])
    results = {"totp": bench_totp(store, args.requests), **bench_keys(layout, store, args.requests)}
    summary = []
    for name, (without, with_) in results.items():
        p50 = (_pct(with_, 50) - _pct(without, 50)) * 1000
        p99 = (_pct(with_, 99) - _pct(without, 99)) * 1000
        rate = len(with_) / sum(with_)
        print(f"{name:6s} {rate:8.0f} validations/s; added p50 {p50:.3f} ms, p99 {p99:.3f} ms "
              f"(without: p50 {_pct(without, 50) * 1000:.3f} ms, p99 {_pct(without, 99) * 1000:.3f} ms)")
        summary += [f"{name}_per_s: {rate:.0f}", f"{name}_added_p50_ms: {p50:.3f}", f"{name}_added_p99_ms: {p99:.3f}"]
    print(", ".join(summary))


if __name__ == "__main__":
    main()
