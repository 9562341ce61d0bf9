"""The ramp-up report: a table of every step's measures, the breach and its bottleneck, and plots.

Plots are PNG files beside the markdown (matplotlib's Agg backend: no display needed): API and
boot latency, the broker and the database, and CPU per service, each against the hypervisors.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from opsflow.simulate.profile import RampProfile  # noqa: E402

__all__ = ["REPORT_NAME", "write"]

REPORT_NAME = "report.md"
#: (column, measure key, digits) of the step table.
_COLUMNS = (("hypervisors", "hypervisors", 0), ("boots", "boots", 0), ("API p50 ms", "api_p50_ms", 0),
            ("API p99 ms", "api_p99_ms", 0), ("boot p50 s", "boot_p50_s", 1), ("boot p99 s", "boot_p99_s", 1),
            ("sched. p99 s", "scheduling_p99_s", 1), ("failed", "boot_failure_ratio", 2),
            ("hosts used", "hosts_used", 0), ("deepest queue", "queue_depth", 0),
            ("broker frames/s", "broker_frames_per_s", 0), ("DB conns", "db_connections", 0),
            ("DB queries/s", "db_questions_per_s", 0), ("load", "load_average", 1))
#: (file stem, title, y axis, logarithmic, ((measure key, label, factor), ...)) of each plot.
_PLOTS = (("latency", "API and boot latency (p99)", "seconds", False,
           (("api_p99_ms", "API call", 0.001), ("scheduling_p99_s", "create to host chosen", 1.0),
            ("boot_p99_s", "create to ACTIVE", 1.0))),
          ("broker", "Broker and database", "per second, or messages", True,
           (("queue_depth", "deepest queue (messages)", 1.0), ("broker_frames_per_s", "broker frames/s", 1.0),
            ("db_questions_per_s", "DB queries/s (server-wide)", 1.0))))


def _cell(value: Any, digits: int) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _plot(path: Path, title: str, ylabel: str, log: bool, records: Sequence[dict[str, Any]],
          series: Sequence[tuple[str, str, float]]) -> None:
    figure, axes = plt.subplots(figsize=(7, 4))
    hosts = [r["measures"]["hypervisors"] for r in records]
    for key, label, factor in series:
        values = [r["measures"][key] for r in records]
        axes.plot(hosts, [v * factor if v is not None else float("nan") for v in values], marker="o", label=label)
    if log:
        axes.set_yscale("symlog")
    axes.set_xlabel("simulated hypervisors")
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _cpu_plot(path: Path, records: Sequence[dict[str, Any]]) -> None:
    busiest = sorted({name for r in records for name in r["measures"]["cpu"]},
                     key=lambda name: -max(r["measures"]["cpu"].get(name, 0.0) for r in records))[:6]
    _plot(path, "CPU per service", "share of one core", False,
          [{"measures": {"hypervisors": r["measures"]["hypervisors"],
                         **{n: r["measures"]["cpu"].get(n) for n in busiest}}} for r in records],
          [(name, name, 1.0) for name in busiest])


def write(directory: Path, ramp: RampProfile, records: Sequence[dict[str, Any]]) -> Path:
    """Write ``report.md`` and its plots under ``directory``; return the markdown's path."""
    directory.mkdir(parents=True, exist_ok=True)
    breach = next((r for r in records if r["breaches"]), None)
    lines = [f"# Ramp-up: {ramp.name}", ""]
    if breach is None:
        lines += [f"All {len(records)} steps held the SLO; the last had "
                  f"{records[-1]['measures']['hypervisors'] if records else 0} hypervisors.", ""]
    else:
        lines += [f"**Stopped at step {breach['index']}** "
                  f"({breach['measures']['hypervisors']} hypervisors): the SLO was breached.", "",
                  *[f"- {said}" for said in breach["breaches"]], "",
                  f"**First bottleneck:** {breach['bottleneck']}.", ""]
        skipped = len(ramp.steps) - len(records)
        if skipped:
            lines += [f"{skipped} later step(s) did not run.", ""]
    lines += ["SLO: " + ", ".join(f"{k} ≤ {v:g}" for k, v in ramp.slo.items()), "",
              "| step | " + " | ".join(c[0] for c in _COLUMNS) + " |", "|" + " --- |" * (len(_COLUMNS) + 1)]
    for r in records:
        m = r["measures"]
        lines.append(f"| {r['index']} | " + " | ".join(_cell(m[key], d) for _, key, d in _COLUMNS) + " |")
    if records:
        lines += ["", "Busiest processes per step (share of one core, RSS MB):", ""]
        for r in records:
            top = sorted(r["measures"]["cpu"].items(), key=lambda item: -item[1])[:4]
            lines.append(f"- step {r['index']}: " + ", ".join(
                f"{name} {share:.2f} ({r['measures']['rss_mb'].get(name, 0):.0f} MB)" for name, share in top))
        for stem, title, ylabel, log, series in _PLOTS:
            _plot(directory / f"{stem}.png", title, ylabel, log, records, series)
        _cpu_plot(directory / "cpu.png", records)
        lines += ["", *[f"![{stem}]({stem}.png)" for stem in ("latency", "broker", "cpu")]]
    path = directory / REPORT_NAME
    path.write_text("\n".join(lines) + "\n")
    return path
