"""Disk transfer between the simulated cloud's two sshds: opsflow's copy against a plain ``ssh … cat``.

Measured in one run, host to host through the region sshds ``opsflow devcloud up`` starts:

* throughput: a dense disk of ``--mib`` MiB of random bytes (nothing to skip, so both sides move the
  same bytes) copied by ``stream.copy`` (agents at both ends, SHA-256 at both ends, the checksum
  compared) against ``ssh SRC cat DISK | ssh DST 'cat > COPY'`` through the same two sshds with
  the same keys and ssh's default options; best of ``--repeat``, alternating;
* warm mode: a ``--delta-gib`` GiB disk with ``--data-share`` of it written, pre-copied, then
  ``--dirty`` of its blocks rewritten by the simulator's guest-write control
  (``controls.dirty_blocks``); the time of the delta pass is the warm downtime's transfer share,
  reported with bytes sent against the disk's size.

Run: ``python benchmarks/transfer.py [--mib 512] [--repeat 3] [--delta-gib 1] [--dirty 0.05]``
with ``$OPSFLOW_DEVCLOUD_HOME``/``$OPSFLOW_DEVCLOUD_PORT_BASE`` naming the cloud (brought up if needed).
The last line is the summary.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

from opsflow.devcloud import bringup, configs
from opsflow.devcloud.layout import Layout
from opsflow.plugins.nova import controls
from opsflow.transfer import access, ssh, stream

MIB = 1 << 20


def make_disk(layout: Layout, hosts: access.HostAccess, region: str, name: str) -> stream.DiskEnd:
    """An empty disk file (with a running VM's record, for the guest-write control) on a region's host."""
    reg = layout.region(region)
    hypervisor = f"{reg.host_prefix}bench-{name}"
    directory = reg.disk_dir / hypervisor
    directory.mkdir(parents=True, exist_ok=True)
    vm = str(uuid.uuid4())
    (directory / f"{vm}.json").write_text(json.dumps({"uuid": vm, "state": 1}))
    path = directory / f"{vm}.disk"
    path.touch()
    return stream.DiskEnd(hosts.cloud(f"devcloud-{region}").host(hypervisor), str(path))


def fill(path: str, size: int, data: int) -> None:
    """``data`` random bytes at the start of a ``size``-byte sparse file."""
    with open(path, "wb") as out:
        left = data
        while left > 0:
            out.write(os.urandom(min(left, 8 * MIB)))
            left -= 8 * MIB
        out.truncate(size)


def plain_ssh(source: stream.DiskEnd, destination: stream.DiskEnd) -> float:
    """Seconds for ``ssh SRC cat | ssh DST 'cat > COPY'`` with ssh's defaults and the same keys."""
    def base(target: access.SshTarget) -> list[str]:
        return ["ssh", "-o", "BatchMode=yes", "-i", str(target.key), "-o", f"UserKnownHostsFile={target.known_hosts}",
                "-p", str(target.port), "-l", target.user, target.host]

    started = time.monotonic()
    reader = subprocess.Popen([*base(source.host.ssh), f"cat {source.path}"], stdout=subprocess.PIPE)
    assert reader.stdout is not None
    with reader.stdout:
        writer = subprocess.run([*base(destination.host.ssh), f"cat > {destination.path}.plain"],
                                stdin=reader.stdout, check=True)
    reader.wait()
    seconds = time.monotonic() - started
    assert writer.returncode == 0 and reader.returncode == 0
    return seconds


def main() -> None:
    """Measure both sides and print the figures, the summary last."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=512, help="size of the dense disk for throughput")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--delta-gib", type=float, default=1.0, help="size of the warm-mode disk")
    parser.add_argument("--data-share", type=float, default=0.25, help="share of the warm disk written")
    parser.add_argument("--dirty", type=float, default=0.05, help="share of blocks the guest rewrites")
    args = parser.parse_args()

    layout = Layout.default()
    bringup.up(layout, configs.SimSettings())
    hosts = access.load(str(layout.host_access))
    made: list[stream.DiskEnd] = []
    try:
        source, destination = make_disk(layout, hosts, "source", "a"), make_disk(layout, hosts, "destination", "b")
        made += [source, destination]
        size = args.mib * MIB
        fill(source.path, size, size)
        ours, theirs = [], []
        for _ in range(args.repeat):
            ours.append(stream.copy(source, destination).seconds)
            theirs.append(plain_ssh(source, destination))
        ours_rate, plain_rate = size / min(ours) / 1e6, size / min(theirs) / 1e6
        print(f"dense {args.mib} MiB, best of {args.repeat}: copy_disk {ours_rate:.0f} MB/s "
              f"({min(ours):.2f} s), plain ssh cat {plain_rate:.0f} MB/s ({min(theirs):.2f} s), "
              f"ratio {ours_rate / plain_rate:.2f}")

        warm_src, warm_dst = make_disk(layout, hosts, "source", "c"), make_disk(layout, hosts, "destination", "d")
        made += [warm_src, warm_dst]
        warm_size = int(args.delta_gib * 1024) * MIB
        fill(warm_src.path, warm_size, int(warm_size * args.data_share))
        precopy = stream.copy(warm_src, warm_dst)
        src_path = Path(warm_src.path)
        dirtied = controls.dirty_blocks(src_path.parent.parent, src_path.parent.name, src_path.stem,
                                        args.dirty, block=ssh.BLOCK, seed=1)
        delta = stream.copy(warm_src, warm_dst, delta=True)
        print(f"warm {args.delta_gib:g} GiB disk ({args.data_share:.0%} data): pre-copy {precopy.seconds:.2f} s, "
              f"{precopy.bytes_sent / MIB:.0f} MiB sent; {dirtied} of {delta.blocks_total} blocks dirtied; "
              f"delta {delta.seconds:.2f} s, {delta.blocks_sent} blocks, {delta.bytes_sent / MIB:.1f} MiB sent "
              f"of {delta.bytes_total / MIB:.0f} MiB")
        print(f"copy_disk_MBps: {ours_rate:.0f}, plain_ssh_cat_MBps: {plain_rate:.0f}, "
              f"ratio: {ours_rate / plain_rate:.2f}, warm_delta_s: {delta.seconds:.2f}, "
              f"delta_bytes_sent: {delta.bytes_sent}, delta_bytes_total: {delta.bytes_total}")
    finally:
        for end in made:
            shutil.rmtree(Path(end.path).parent, ignore_errors=True)


if __name__ == "__main__":
    main()
