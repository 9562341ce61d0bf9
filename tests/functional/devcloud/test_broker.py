"""Each simulated cloud runs a RabbitMQ of its own: two on different bases, side by side.

These brokers are started here directly (not through a whole cloud) on bases no cloud uses,
so the test costs one Erlang boot (~20 s on a loaded machine) and touches nothing shared.
"""

from __future__ import annotations

import resource
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from opsflow.devcloud import broker, procs
from opsflow.devcloud.layout import Layout

pytestmark = pytest.mark.functional


def _free_block(start: int) -> int:
    """A base whose broker ports (base+80, base+81) are free now."""
    for base in range(start, start + 2000, 100):
        with socket.socket() as a, socket.socket() as b:
            try:
                a.bind(("127.0.0.1", base + 80))
                b.bind(("127.0.0.1", base + 81))
            except OSError:
                continue
        return base
    raise AssertionError("no free broker ports")


def _start(layout: Layout) -> procs.Proc:
    for path, text in broker.files(layout).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    broker.prepare(layout)
    proc = broker.process(layout)
    procs.start(proc, layout.run, layout.logs)
    procs.wait_healthy(proc, layout.run, layout.logs)
    return proc


def test_two_clouds_each_get_their_own_broker_with_their_vhosts(tmp_path: Path) -> None:
    """Two bases give two nodes on their own ports, each with its regions' vhosts, a raised
    open-files limit, and stopping one leaves the other serving."""
    first = Layout(tmp_path / "a", port_base=_free_block(31000))
    second = Layout(tmp_path / "b", port_base=_free_block(first.port_base + 100))
    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(_start, (first, second)))
        # rabbitmqctl starts an Erlang VM per call (~3 s): ask each node one thing
        vhosts = set(broker.ctl(first, "list_vhosts", "name", "--no-table-headers").split())
        assert {r.vhost for r in first.regions()} <= vhosts
        assert broker.list_queues(second) == []  # reaches both of its vhosts
        for layout in (first, second):
            assert broker.serving(layout.broker_port)
            pid = procs.alive_pid(layout.run, broker.NAME)
            assert pid is not None
            leader = psutil.Process(pid)
            beam = max([leader, *leader.children(recursive=True)], key=lambda p: p.memory_info().rss)
            soft, _ = beam.rlimit(psutil.RLIMIT_NOFILE)
            assert soft >= min(broker.NOFILE, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
        assert procs.stop(first.run, broker.NAME)
        assert not broker.serving(first.broker_port)
        assert broker.serving(second.broker_port)
    finally:
        for layout in (first, second):
            procs.stop(layout.run, broker.NAME)
