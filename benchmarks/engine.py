"""What opsflow's engine costs next to raw TaskFlow, on the same 1000-task flows.

Two shapes of N no-op tasks: ``wide`` (all independent; opsflow: one task fanned out over N items)
and ``long`` (a chain, each task after the previous one). For each shape, side by side in one run:

* ``compile``          -- opsflow: YAML load and validation plus compilation to a TaskFlow graph
* ``opsflow-sqlite``   -- a whole ``Runner.run`` on opsflow's embedded durable default (SQLite file)
* ``taskflow-sqlite``  -- the same flow hand-built in raw TaskFlow on TaskFlow's own SQLite backend
* ``opsflow-memory``   -- ``Runner.run`` with ``memory://`` state
* ``taskflow-memory``  -- the hand-built flow in raw TaskFlow without persistence

And ``children``: one parent whose task fans out over another task's result of N items with
``flow:``, i.e. N child runs (each one no-op task), 4 at a time, state in SQLite -- the per-child
cost (goal <= 20 ms) beside the per-task cost of the same N items fanned out inside one run
(``wide``, measured in the same invocation). CPU seconds are shown too: on a shared, loaded machine
wall time is mostly waiting for a core.

Every measurement runs in its own subprocess, so its peak RSS growth is its own. Both sides use a
parallel engine with a shared 4-thread executor. Reported: seconds, ms per task, RSS growth (MiB),
opsflow memory / TaskFlow memory (goal <= 1.2) and TaskFlow SQLite / opsflow SQLite (goal >= 10).

    python benchmarks/engine.py [--tasks 1000] [--shapes wide,long] [--children 1000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

WORKERS = 4


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _peak_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def definition_text(shape: str, tasks: int) -> str:
    """The opsflow definition of a shape."""
    if shape == "wide":
        return (
            "name: wide\ninputs: {items: {type: list}}\ntasks:\n"
            "  - {name: each, for_each: '${inputs.items}', action: core.noop}\n"
        )
    lines = ["name: long", "tasks:", "  - {name: t0, action: core.noop}"]
    lines += [f"  - {{name: t{i}, action: core.noop, after: [t{i - 1}]}}" for i in range(1, tasks)]
    return "\n".join(lines) + "\n"


def measure_opsflow(shape: str, tasks: int, state: str) -> dict[str, float]:
    """Compile and run through opsflow's Runner."""
    from opsflow.engines import definition_compiler
    from opsflow.engines.atoms import RunOptions
    from opsflow.engines.records import RunState
    from opsflow.engines.runner import Runner
    from opsflow.flows import inputs, loader

    text = definition_text(shape, tasks)
    given = {"items": list(range(tasks))} if shape == "wide" else {}
    start = time.perf_counter()
    definition = loader.load_text(text)
    definition_compiler.compile_flow(definition, inputs.validate(definition, given), RunOptions("bench"))
    compile_seconds = time.perf_counter() - start
    with Runner(state, max_workers=WORKERS) as runner:
        before = _rss_kib()
        start = time.perf_counter()
        record = runner.run(definition, given)
        seconds = time.perf_counter() - start
    assert record.state is RunState.SUCCEEDED, record.state
    return {"seconds": seconds, "compile": compile_seconds, "rss_mib": (_peak_kib() - before) / 1024}


CHILD = "name: leaf\ninputs: {n: {type: integer}}\ntasks:\n  - {name: t, action: core.noop}\n"
PARENT = (
    "name: batch\ninputs: {items: {type: list}}\ntasks:\n"
    "  - {name: plan, action: core.echo, args: {message: '${inputs.items}'}}\n"
    f"  - {{name: each, for_each: '${{tasks.plan}}', flow: leaf, concurrency: {WORKERS}, args: {{n: '${{item}}'}}}}\n"
)


def measure_children(children: int, tmp: str) -> dict[str, float]:
    """A batch of ``children`` child runs through opsflow's Runner, state in SQLite."""
    from opsflow.engines.records import RunState
    from opsflow.engines.runner import Runner
    from opsflow.flows import loader

    Path(tmp, "leaf.yaml").write_text(CHILD)
    Path(tmp, "batch.yaml").write_text(PARENT)
    definition = loader.load_file(str(Path(tmp, "batch.yaml")))
    with Runner(f"sqlite:///{tmp}/state.db", max_workers=WORKERS) as runner:
        before = _rss_kib()
        start, cpu = time.perf_counter(), time.process_time()
        record = runner.run(definition, {"items": list(range(children))})
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert record.state is RunState.SUCCEEDED, record.state
    return {"seconds": seconds, "cpu": cpu, "rss_mib": (_peak_kib() - before) / 1024}


def measure_taskflow(shape: str, tasks: int, sqlite_path: str | None) -> dict[str, float]:
    """The same flow built by hand in raw TaskFlow."""
    import contextlib

    import futurist
    import taskflow.engines
    from taskflow import task
    from taskflow.patterns import linear_flow, unordered_flow
    from taskflow.persistence import backends, models

    class Noop(task.Task):  # type: ignore[misc]
        def execute(self) -> None:
            pass

    pattern = unordered_flow if shape == "wide" else linear_flow
    flow = pattern.Flow(shape).add(*(Noop(f"t{i}") for i in range(tasks)))
    kwargs: dict[str, Any] = {}
    if sqlite_path is not None:
        backend = backends.fetch({"connection": f"sqlite:///{sqlite_path}"})
        with contextlib.closing(backend.get_connection()) as conn:
            conn.upgrade()
        book = models.LogBook("bench")
        detail = models.FlowDetail(shape, uuid="bench")
        book.add(detail)
        with contextlib.closing(backend.get_connection()) as conn:
            conn.save_logbook(book)
        kwargs = {"backend": backend, "book": book, "flow_detail": detail}
    executor = futurist.ThreadPoolExecutor(max_workers=WORKERS)
    before = _rss_kib()
    start = time.perf_counter()
    engine = taskflow.engines.load(flow, engine="parallel", executor=executor, max_workers=WORKERS, **kwargs)
    engine.run()
    seconds = time.perf_counter() - start
    executor.shutdown()
    return {"seconds": seconds, "rss_mib": (_peak_kib() - before) / 1024}


def child(kind: str, shape: str, tasks: int) -> dict[str, float]:
    """One measurement, in this (fresh) process."""
    with tempfile.TemporaryDirectory() as tmp:
        if kind == "opsflow-children":
            return measure_children(tasks, tmp)
        if kind == "opsflow-sqlite":
            return measure_opsflow(shape, tasks, f"sqlite:///{tmp}/state.db")
        if kind == "opsflow-memory":
            return measure_opsflow(shape, tasks, "memory://")
        if kind == "taskflow-sqlite":
            return measure_taskflow(shape, tasks, f"{tmp}/taskflow.db")
        return measure_taskflow(shape, tasks, None)


def spawn(kind: str, shape: str, tasks: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", kind, shape, str(tasks)],
                         check=True, capture_output=True, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--shapes", default="wide,long")
    parser.add_argument("--children", type=int, default=1000, help="child runs in the batch (0: skip)")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "SHAPE", "TASKS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, shape, tasks = args.child
        print(json.dumps(child(kind, shape, int(tasks))))
        return
    summary: dict[str, str] = {}
    kinds = ("opsflow-sqlite", "taskflow-sqlite", "opsflow-memory", "taskflow-memory")
    for shape in args.shapes.split(","):
        results = {kind: spawn(kind, shape, args.tasks) for kind in kinds}
        print(f"\n{shape}: {args.tasks} no-op tasks, parallel engine, {WORKERS} workers")
        print(f"  compile (opsflow load + validate + compile): {results['opsflow-sqlite']['compile']:.3f} s")
        for kind in kinds:
            r = results[kind]
            print(f"  {kind:16s} {r['seconds']:8.2f} s  {1000 * r['seconds'] / args.tasks:7.2f} ms/task"
                  f"  RSS +{r['rss_mib']:.1f} MiB")
        memory_ratio = results["opsflow-memory"]["seconds"] / results["taskflow-memory"]["seconds"]
        sqlite_ratio = results["taskflow-sqlite"]["seconds"] / results["opsflow-sqlite"]["seconds"]
        print(f"  opsflow memory / taskflow memory: {memory_ratio:.2f} (goal <= 1.2)")
        print(f"  taskflow sqlite / opsflow sqlite: {sqlite_ratio:.1f}x (goal >= 10)")
        summary[f"{shape}_compile_s"] = f"{results['opsflow-sqlite']['compile']:.3f}"
        summary[f"{shape}_sqlite_ms_per_task"] = f"{1000 * results['opsflow-sqlite']['seconds'] / args.tasks:.2f}"
        summary[f"{shape}_sqlite_rss_mib"] = f"{results['opsflow-sqlite']['rss_mib']:.0f}"
        summary[f"{shape}_taskflow_sqlite_ms_per_task"] = (
            f"{1000 * results['taskflow-sqlite']['seconds'] / args.tasks:.2f}")
        summary[f"{shape}_memory_ratio"] = f"{memory_ratio:.2f}"
        summary[f"{shape}_sqlite_speedup"] = f"{sqlite_ratio:.1f}"
    if args.children:
        r = spawn("opsflow-children", "children", args.children)
        per_child = 1000 * r["seconds"] / args.children
        print(f"\nchildren: {args.children} child runs of one no-op task, {WORKERS} at a time, SQLite")
        print(f"  opsflow-children {r['seconds']:8.2f} s  {per_child:7.2f} ms/child (goal <= 20)"
              f"  CPU {1000 * r['cpu'] / args.children:.2f} ms/child  RSS +{r['rss_mib']:.1f} MiB")
        if "wide_sqlite_ms_per_task" in summary:
            print(f"  the same items fanned out inside one run: {summary['wide_sqlite_ms_per_task']} ms/task")
        summary["children_ms_per_child"] = f"{per_child:.2f}"
        summary["children_cpu_ms_per_child"] = f"{1000 * r['cpu'] / args.children:.2f}"
    print()
    print(", ".join(f"{key}: {value}" for key, value in summary.items()))


if __name__ == "__main__":
    main()
