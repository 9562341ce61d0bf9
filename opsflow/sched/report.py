"""The markdown report of a simulation: tables of every policy's numbers, plots beside them.

Plots are PNG files written next to the markdown (matplotlib's non-interactive Agg backend, so it
runs on a server without a display) and linked from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from opsflow.sched import metrics  # noqa: E402
from opsflow.sched.cost import CostPoint  # noqa: E402
from opsflow.sched.engine import RunResult  # noqa: E402
from opsflow.sched.profile import Profile  # noqa: E402

__all__ = ["Report", "write"]


@dataclass(frozen=True)
class Report:
    """Where a report went."""

    markdown: Path
    plots: tuple[Path, ...]


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def summary_table(summaries: Sequence[metrics.Summary]) -> list[str]:
    """One markdown row per policy."""
    lines = ["| policy | placed | rejected | fleet max/mean | fleet CV | burst max/mean | burst CV | "
             "herding | hosts in 1st burst | conflicts | retries | evaluations/req | µs/decision | "
             "mean s to claim | p99 s | util. at 1st rejection |",
             "|" + " --- |" * 16]
    for s in summaries:
        lines.append(
            f"| {s.policy} | {s.placed} | {s.rejected} | {_fmt(s.fleet.max_over_mean)} | {_fmt(s.fleet.cv)} | "
            f"{_fmt(s.burst.max_over_mean)} | {_fmt(s.burst.cv)} | {_fmt(s.herding, 3)} | {s.burst_hosts} | "
            f"{s.conflicts} | {s.retries} | {s.mean_evaluations:.0f} | {s.mean_cpu_us:.0f} | "
            f"{_fmt(s.mean_latency)} | {_fmt(s.p99_latency)} | {_fmt(s.utilisation_at_first_rejection)} |")
    return lines


def cost_table(points: Sequence[CostPoint]) -> list[str]:
    """One markdown row per policy and fleet size."""
    lines = ["| policy | hosts | host states/req | evaluations/req | µs/decision (measured) | "
             "modelled scheduler s | modelled Placement query s |", "|" + " --- |" * 7]
    for p in points:
        lines.append(f"| {p.policy} | {p.hosts} | {p.states:.0f} | {p.evaluations:.0f} | {p.decide_us:.0f} | "
                     f"{p.model_seconds:.4f} | {p.placement_seconds:.3f} |")
    return lines


def _plot_bursts(results: Sequence[RunResult], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=90)
    for result in results:
        counts = next(iter(metrics.burst_counts(result).values()), [])
        ax.plot(range(len(counts)), sorted(counts, reverse=True), label=result.policy.value, linewidth=1.5)
    ax.set_xlabel("hosts, busiest first")
    ax.set_ylabel("VMs of the first burst")
    ax.set_title("Where the first burst landed")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _plot_shares(results: Sequence[RunResult], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=90)
    ax.boxplot([r.shares for r in results], tick_labels=[r.policy.value for r in results])
    ax.set_ylabel("allocated vCPU share per host")
    ax.set_title("Fleet balance at the end of the run")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _plot_cost(points: Sequence[CostPoint], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=90)
    for label in dict.fromkeys(p.policy for p in points):
        mine = [p for p in points if p.policy == label]
        ax.plot([p.hosts for p in mine], [p.decide_us for p in mine], marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("hypervisors")
    ax.set_ylabel("µs per decision (measured)")
    ax.set_title("Decision cost as the fleet grows")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write(profile: Profile, results: Sequence[RunResult], points: Sequence[CostPoint], out: Path) -> Report:
    """Write ``out`` (markdown) and its plots beside it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    stem = out.with_suffix("")
    plots = (Path(f"{stem}-burst.png"), Path(f"{stem}-balance.png"), Path(f"{stem}-cost.png"))
    _plot_bursts(results, plots[0])
    _plot_shares(results, plots[1])
    _plot_cost(points, plots[2])
    summaries = [metrics.summarize(r) for r in results]
    s = profile.scheduler
    lines = [
        f"# Scheduling simulation: {profile.name}",
        "",
        f"Profile `{profile.source}`: {profile.host_count} hypervisors, {len(profile.traffic)} traffic "
        f"stream(s) over {profile.duration:.0f} s simulated, {s.workers} scheduler worker(s) × {s.threads} "
        f"threads, host state refreshed every {s.refresh_seconds:.0f} s, `max_placement_results` "
        f"{s.max_placement_results}, `host_subset_size` {s.host_subset_size}, "
        f"`shuffle_best_same_weighed_hosts` {str(s.shuffle_best_same_weighed_hosts).lower()}, "
        f"sample size {s.sample_size}, seed {profile.seed}.",
        "",
        "## Placement quality",
        "",
        *summary_table(summaries),
        "",
        "Burst columns: the burst's VMs per host over all hosts (mean over bursts); herding is the share "
        "of a burst on its busiest host. Conflicts are Placement 409s (stale capacity or concurrent "
        "update); retries re-claim the same host after a concurrent update. Over-committed hosts: "
        + ", ".join(f"{x.policy} {x.over_committed}" for x in summaries) + " (must be 0).",
        "",
        f"![first burst]({plots[0].name})",
        "",
        f"![fleet balance]({plots[1].name})",
        "",
        "## Decision cost as the fleet grows",
        "",
        *cost_table(points),
        "",
        "`nova` keeps the default `max_placement_results` (it never looks past that many providers); "
        "`nova-full-scan` raises it to the fleet size. Measured µs are this model's Python on this "
        "machine (CPU time of the ranking code); the modelled columns use the engine's timings.",
        "",
        f"![decision cost]({plots[2].name})",
        "",
    ]
    out.write_text("\n".join(lines), encoding="utf-8")
    return Report(out, plots)
