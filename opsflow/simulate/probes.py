"""What the control plane is doing: broker queues and traffic, database connections and queries,
CPU and memory of every service process -- sampled at the start and end of a ramp step.

Rates are differences between the two samples over the time between them. The broker's numbers
come from ``rabbitmqctl`` (queue depths; frames received on every connection, the AMQP traffic
nova's RPC and heartbeats make), the database's from MariaDB (connections to this cloud's
databases; ``Questions`` is the server's, so it includes other users of the same MariaDB), the
processes' from psutil over the cloud's pid files (each process with its children: gunicorn
workers, the compute process's threads).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import psutil

from opsflow.devcloud import broker, infra, procs
from opsflow.devcloud.layout import Layout

__all__ = ["ProcessUse", "Sample", "sample", "rates"]


@dataclass(frozen=True)
class ProcessUse:
    """CPU seconds used so far and resident memory of one service (with its children)."""

    cpu_s: float
    rss_mb: float


@dataclass
class Sample:
    """The control plane at one moment."""

    at: float
    #: (vhost/queue, messages waiting) of the deepest queue, and messages waiting in all.
    deepest_queue: tuple[str, int] = ("", 0)
    queued: int = 0
    queues: int = 0
    connections: int = 0
    #: Frames received by the broker on all connections so far.
    frames_in: int = 0
    db_connections: int = 0
    #: MariaDB's statements so far (``Questions``, server-wide).
    db_questions: int = 0
    processes: dict[str, ProcessUse] = field(default_factory=dict)


def _process_use(pid: int) -> ProcessUse | None:
    try:
        root = psutil.Process(pid)
        family = [root, *root.children(recursive=True)]
        cpu = rss = 0.0
        for proc in family:
            times = proc.cpu_times()
            cpu += times.user + times.system
            rss += proc.memory_info().rss
        return ProcessUse(cpu, rss / 2**20)
    except psutil.Error:  # it ended between the listing and the reading
        return None


def _processes(layout: Layout) -> dict[str, ProcessUse]:
    out = {}
    for pid_file in sorted(layout.run.glob("*.pid")):
        pid = procs.alive_pid(layout.run, pid_file.stem)
        use = _process_use(pid) if pid else None
        if use is not None:
            out[pid_file.stem] = use
    return out


def _broker(layout: Layout, into: Sample) -> None:
    queues = broker.list_queues(layout)
    into.queues = len(queues)
    into.queued = sum(q[2] for q in queues)
    if queues:
        vhost, name, messages, _ = max(queues, key=lambda q: q[2])
        into.deepest_queue = (f"{vhost}/{name}", messages)
    lines = broker.ctl(layout, "list_connections", "recv_cnt", "--no-table-headers").split()
    counts = [int(word) for word in lines if word.isdigit()]
    into.connections = len(counts)
    into.frames_in = sum(counts)


def _database(layout: Layout, into: Sample) -> None:
    names = ", ".join(f"'{name}'" for name in infra.databases(layout))
    ((connected,),) = infra.query(f"SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB IN ({names})")
    into.db_connections = int(connected)
    ((_, questions),) = infra.query("SHOW GLOBAL STATUS LIKE 'Questions'")
    into.db_questions = int(questions)


def sample(layout: Layout) -> Sample:
    """Read the broker, the database and every process of the cloud now."""
    taken = Sample(at=time.time(), processes=_processes(layout))
    _broker(layout, taken)
    _database(layout, taken)
    return taken


def rates(first: Sample, last: Sample) -> dict[str, float]:
    """Per-second rates and per-process CPU shares between two samples."""
    span = max(last.at - first.at, 1e-6)
    out = {"broker_frames_per_s": (last.frames_in - first.frames_in) / span,
           "db_questions_per_s": (last.db_questions - first.db_questions) / span}
    for name, use in last.processes.items():
        before = first.processes.get(name)
        if before is not None:
            out[f"cpu:{name}"] = (use.cpu_s - before.cpu_s) / span
    return out
