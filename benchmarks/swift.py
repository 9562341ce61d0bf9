"""How fast opsflow's single-replica Swift starts and moves bytes, SLO against one plain object.

Starts a SwiftCluster (tempauth) in a temporary directory on free loopback ports, then through
python-swiftclient's SwiftService uploads and downloads the same random file twice: as a Static
Large Object of fixed-size segments (uploaded concurrently, the way hibernate stores disks) and as
one plain object (a single PUT). Reports start times (cold with ring building, warm no-op) and
MB/s (10^6 bytes) for each side, the SLO/plain ratio, and checks the checksums. Each transfer is
repeated and the best run counted, since other work on the 2-core machine adds noise.

    python benchmarks/swift.py [--size-mib 100] [--segment-mib 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import socket
import tempfile
import time
from pathlib import Path

from swiftclient.service import SwiftService, SwiftUploadObject

from opsflow.devcloud.swift import Ports, SwiftCluster, TempAuth, ensure_venv

MIB = 2**20
VENV = Path(os.environ.get("OPSFLOW_SWIFT_VENV", Path.home() / ".cache/opsflow/swift-dev-venv"))


def free_ports() -> Ports:
    socks = [socket.socket() for _ in range(5)]
    for sock in socks:
        sock.bind(("127.0.0.1", 0))
    numbers = [sock.getsockname()[1] for sock in socks]
    for sock in socks:
        sock.close()
    return Ports(proxy=numbers[0], account=numbers[1], container=numbers[2], object=numbers[3],
                 memcached=numbers[4])


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(MIB):
            digest.update(chunk)
    return digest.hexdigest()


def round_trip(
    cluster: SwiftCluster, source: Path, target: Path, name: str, options: dict[str, object]
) -> tuple[float, float]:
    """Seconds to upload and to download ``source`` as object ``name``; fails on a checksum mismatch."""
    base = {"auth": cluster.auth_url, "auth_version": "1.0", "user": "test:tester", "key": "testing"}
    with SwiftService(options={**base, **options}) as swift:
        began = time.perf_counter()
        results = list(swift.upload("bench", [SwiftUploadObject(str(source), object_name=name)]))
        up = time.perf_counter() - began
        failed = [r.get("error") for r in results if not r["success"]]
        if failed:
            raise SystemExit(f"upload of {name} failed: {failed}")
        began = time.perf_counter()
        results = list(swift.download("bench", [name], options={"out_file": str(target)}))
        down = time.perf_counter() - began
        if not all(r["success"] for r in results):
            raise SystemExit(f"download of {name} failed: {[r.get('error') for r in results]}")
        list(swift.delete("bench", [name]))
    if sha256(target) != sha256(source):
        raise SystemExit(f"{name}: downloaded bytes differ from the uploaded file")
    target.unlink()
    return up, down


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=100)
    parser.add_argument("--segment-mib", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="opsflow-swift-bench-") as tmp:
        work = Path(tmp)
        cluster = SwiftCluster(work / "swift", ensure_venv(VENV), TempAuth(), ports=free_ports())
        try:
            began = time.perf_counter()
            cluster.start()
            cold = time.perf_counter() - began
            began = time.perf_counter()
            cluster.start()
            warm = time.perf_counter() - began
            source = work / "payload.bin"
            with source.open("wb") as stream:
                for _ in range(args.size_mib):
                    stream.write(os.urandom(MIB))
            megabytes = args.size_mib * MIB / 1e6
            slo_opts = {"segment_size": args.segment_mib * MIB, "use_slo": True}
            runs: dict[str, list[tuple[float, float]]] = {"slo": [], "plain": []}
            for _ in range(args.repeat):
                runs["slo"].append(round_trip(cluster, source, work / "out.bin", "slo.bin", slo_opts))
                runs["plain"].append(round_trip(cluster, source, work / "out.bin", "plain.bin", {}))
        finally:
            cluster.stop()

    rates = {side: (megabytes / min(u for u, _ in r), megabytes / min(d for _, d in r)) for side, r in runs.items()}
    print(f"payload {args.size_mib} MiB, SLO segments {args.segment_mib} MiB, best of {args.repeat}")
    print(f"start: cold (rings + 7 processes) {cold:.2f} s, second start (no-op) {warm * 1000:.0f} ms")
    for side, (up, down) in rates.items():
        print(f"{side:>5}: upload {up:.0f} MB/s, download {down:.0f} MB/s")
    up_ratio, down_ratio = (rates["slo"][i] / rates["plain"][i] for i in (0, 1))
    print(f"SLO/plain: upload x{up_ratio:.2f}, download x{down_ratio:.2f}")
    print(
        f"cold_start_s: {cold:.2f}, warm_start_ms: {warm * 1000:.0f}, "
        f"slo_upload_MBps: {rates['slo'][0]:.0f}, slo_download_MBps: {rates['slo'][1]:.0f}, "
        f"plain_upload_MBps: {rates['plain'][0]:.0f}, plain_download_MBps: {rates['plain'][1]:.0f}, "
        f"slo_over_plain_upload: {up_ratio:.2f}, slo_over_plain_download: {down_ratio:.2f}"
    )


if __name__ == "__main__":
    main()
