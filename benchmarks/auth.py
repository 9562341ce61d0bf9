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

Each middleware's requests and the same requests straight to the inner application are timed
interleaved, one of each in turn (the order alternating), after a warm-up, so a burst of load on
the host hits both sides alike. Reported: validations per second (one thread), latency added per
request (p50/p99: the percentile with minus the same percentile without), the CPU time the
middleware itself spends per request (``thread_time``, which a busy host's scheduling does not
inflate) and memcached round trips per request (counted at the store). Goal: < 1 ms p99 added.
The load average is printed beside the figures: on a shared host the wall-clock p99 is mostly
the wait for a core after each memcached round trip.

    python benchmarks/auth.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import dataclasses
import hmac
import io
import os
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


class CountingStore(MemcacheStore):
    """The real store, counting its round trips (one per server a batch of commands goes to)."""

    round_trips = 0

    def _exchange(self, *args: Any, **kwargs: Any) -> list[Any]:
        CountingStore.round_trips += 1
        return super()._exchange(*args, **kwargs)


@dataclasses.dataclass
class Side:
    """Timings of one side: wall seconds and thread CPU seconds per request."""

    wall: list[float] = dataclasses.field(default_factory=list)
    cpu: list[float] = dataclasses.field(default_factory=list)


def _call(app: Callable[..., Iterable[bytes]], environ: Environ, side: Side) -> None:
    statuses: list[str] = []
    cpu, start = time.thread_time(), time.perf_counter()
    b"".join(app(environ, lambda status, headers, exc=None: statuses.append(status)))
    side.wall.append(time.perf_counter() - start)
    side.cpu.append(time.thread_time() - cpu)
    if not statuses[0].startswith(("200", "201")):
        raise SystemExit(f"a benchmark request was refused: {statuses[0]}")


def interleaved(app: Callable[..., Iterable[bytes]], make: Callable[[int], Environ], n: int,
                warm: int = 200) -> tuple[Side, Side, float]:
    """(without, with, round trips per request): request i through ``inner`` and through ``app``
    (fresh environs of ``make(i)``), in turn, the first ``warm`` of each not counted."""
    without, with_, discard = Side(), Side(), Side()
    trips = 0
    for i in range(warm + n):
        plain, guarded = make(2 * i), make(2 * i + 1)
        first_plain = i % 2 == 0
        if first_plain:
            _call(inner, plain, without if i >= warm else discard)
        before = CountingStore.round_trips
        _call(app, guarded, with_ if i >= warm else discard)
        trips += CountingStore.round_trips - before if i >= warm else 0
        if not first_plain:
            _call(inner, plain, without if i >= warm else discard)
    return without, with_, trips / n


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


def bench_totp(store: MemcacheStore, n: int) -> tuple[Side, Side, float]:
    """Token requests with password + passcode, each of a new user (never a replay)."""
    secret = otp.new_secret()
    run = time.time_ns()
    guard = TotpGuard(inner, TotpOptions(memcache_servers=()), _Facts(secret), store)
    # a code of the current step for a new user each time: never a replay, always the full check
    return interleaved(guard, lambda i: _token_request(f"bench-{run}-{i}", otp.passcode_at(secret, time.time())), n)


def _signed(key: AccessKey, port: int, n: str = "0") -> tuple[Environ, bytes]:
    # a query that differs per request: two identical requests signed in the same second would be
    # the same signature, which the filter refuses as a replay
    url = f"http://127.0.0.1:{port}/v2.1/servers?n={n}"
    req = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials(key.access, key.secret), "compute", "source").add_auth(req)
    environ: Environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/v2.1/servers", "SCRIPT_NAME": "", "QUERY_STRING": f"n={n}",
                        "HTTP_HOST": f"127.0.0.1:{port}", "wsgi.input": io.BytesIO(b""), "CONTENT_LENGTH": "0",
                        "REMOTE_ADDR": "127.0.0.1"}
    for name, value in req.headers.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ, b""


def bench_keys(layout: Layout, store: MemcacheStore, n: int) -> dict[str, tuple[Side, Side, float]]:
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
        run = time.time_ns()
        out = {"sigv4": interleaved(filt, lambda i: _signed(key, nova_port, f"{run}-{i}")[0], n)}

        def s3_environ(i: int) -> Environ:
            sig = f"{run}-{i}"
            return {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "wsgi.input": io.BytesIO(b""), "REMOTE_ADDR": "127.0.0.1",
                    "HTTP_X_AMZ_DATE": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()), "swift.trans_id": sig,
                    "s3api.auth_details": {"access_key": key.access, "signature": sig, "string_to_sign": b"x",
                                           "check_signature": lambda secret: hmac.compare_digest(secret, key.secret)}}

        out["s3"] = interleaved(S3KeyFilter(inner, gate), s3_environ, n)
        return out
    finally:
        conn.identity.delete(f"/credentials/{cred['credential']['id']}")
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="Requests per side and middleware.")
    args = parser.parse_args()
    layout = Layout.default()
    store = CountingStore([f"127.0.0.1:{layout.memcached_port}"])
    load = os.getloadavg()
    results = {"totp": bench_totp(store, args.requests), **bench_keys(layout, store, args.requests)}
    load = tuple(max(a, b) for a, b in zip(load, os.getloadavg()))
    summary = []
    for name, (without, with_, trips) in results.items():
        p50 = (_pct(with_.wall, 50) - _pct(without.wall, 50)) * 1000
        p99 = (_pct(with_.wall, 99) - _pct(without.wall, 99)) * 1000
        cpu = (statistics.mean(with_.cpu) - statistics.mean(without.cpu)) * 1e6
        rate = len(with_.wall) / sum(with_.wall)
        print(f"{name:6s} {rate:8.0f} validations/s; added p50 {p50:.3f} ms, p99 {p99:.3f} ms, "
              f"CPU {cpu:.0f} us, {trips:.2f} memcached round trips "
              f"(without: p50 {_pct(without.wall, 50) * 1000:.3f} ms, p99 {_pct(without.wall, 99) * 1000:.3f} ms)")
        summary += [f"{name}_per_s: {rate:.0f}", f"{name}_added_p50_ms: {p50:.3f}", f"{name}_added_p99_ms: {p99:.3f}",
                    f"{name}_cpu_us: {cpu:.0f}", f"{name}_round_trips: {trips:.2f}"]
    print(f"load average (1, 5, 15 min, highest seen): {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}")
    print(", ".join(summary + [f"load_1min: {load[0]:.2f}"]))


if __name__ == "__main__":
    main()
