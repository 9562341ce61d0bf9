"""Scheduling: nova's filter scheduler against opsflow's runtime-aware placement, in the model and on
the simulated cloud.

Measured in one run, both sides each time:

1. decision cost per request at 100 / 1,000 / 10,000 hosts for the nova model (default
   ``max_placement_results``, and raised to reach every host) and opsflow's policy: host states,
   host evaluations, CPU µs of the ranking code on this machine, modelled seconds;
2. burst imbalance (max/mean and CV of the burst's VMs per host) and claim conflicts of the same
   burst (``examples/sched/burst-100.yaml``) under both policies in the model, over several seeds;
3. with ``OPSFLOW_SCHED_CLOUD=1``: the same burst on the running simulated cloud
   (``$OPSFLOW_DEVCLOUD_HOME``, ``$OPSFLOW_SCHED_COMPUTES`` hypervisors per region, default 100;
   ``$OPSFLOW_SCHED_BURST`` boots, default 30) with nova's defaults and then with opsflow's plugins
   (``opsflow devcloud up --scheduler``), next to the model of that very burst on those hosts.

Goals: opsflow's cost within 2x from 1,000 to 10,000 hosts; its burst imbalance at most half of
nova's; no more conflicts than nova. The last line is the one-line summary.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from opsflow.sched import cost, engine, metrics, profile  # noqa: E402
from opsflow.sched.metrics import spread  # noqa: E402
from opsflow.sched.profile import PolicyName  # noqa: E402

PROFILE = ROOT / "examples" / "sched" / "burst-100.yaml"
SEEDS = range(1, 6)


def _burst_profile(base: profile.Profile, hosts: int, count: int, seed: int,
                   capacity: tuple[int, int, int] | None = None) -> profile.Profile:
    group = dataclasses.replace(base.hosts[0], count=hosts)
    if capacity and all(capacity):
        group = dataclasses.replace(group, vcpus=capacity[0], ram_mb=capacity[1], disk_gb=capacity[2])
    return dataclasses.replace(base, seed=seed, hosts=(group,),
                               traffic=(dataclasses.replace(base.traffic[0], count=count),))


def model_burst(base: profile.Profile, hosts: int, count: int, name: PolicyName,
                capacity: tuple[int, int, int] | None = None) -> tuple[float, float, float]:
    """Mean over seeds of (burst max/mean, burst CV, conflicts) in the model."""
    runs = [metrics.summarize(engine.run(_burst_profile(base, hosts, count, s, capacity), name)) for s in SEEDS]
    return (statistics.fmean(r.burst.max_over_mean for r in runs), statistics.fmean(r.burst.cv for r in runs),
            statistics.fmean(r.conflicts for r in runs))


def cloud_bursts(base: profile.Profile) -> dict[str, tuple[float, float, float, float, float]]:
    """Real nova (defaults, then opsflow's plugins) and the model of the same burst:
    mode -> (real max/mean, real CV, real conflicts, model max/mean, model conflicts)."""
    from opsflow.devcloud import bringup, configs
    from opsflow.devcloud.layout import Layout
    from opsflow.devcloud.scheduler_modes import SchedulerMode
    from opsflow.sched import cloud

    layout = Layout.default()
    computes = int(os.environ.get("OPSFLOW_SCHED_COMPUTES", "100"))
    count = int(os.environ.get("OPSFLOW_SCHED_BURST", "30"))
    os.environ["OS_CLIENT_CONFIG_FILE"] = str(layout.clouds_yaml)
    out = {}
    for mode, name in ((SchedulerMode.NOVA_DEFAULTS, PolicyName.NOVA), (SchedulerMode.OPSFLOW, PolicyName.OPSFLOW)):
        # region destination stays small: the burst is in source, and the machine's cores go to it
        shaped = configs.SimSettings(computes=computes, destination_computes=2, scheduler=mode)
        print(f"# {mode.value}: {bringup.up(layout, shaped)}", flush=True)
        real = cloud.burst(layout, "source", count, concurrency=min(count, 20))
        real_spread = spread(real.per_host)
        model = model_burst(base, len(real.hosts), count, name, real.capacity)
        print(f"# {mode.value}: {count} boots over {len(real.hosts)} hypervisors in {real.seconds:.0f} s: "
              f"{sum(1 for c in real.per_host if c)} hosts used, busiest {max(real.per_host)}, "
              f"max/mean {real_spread.max_over_mean:.2f} (model {model[0]:.2f}), CV {real_spread.cv:.2f} "
              f"(model {model[1]:.2f}), conflicts {real.conflicts} (model {model[2]:.1f}), errors {real.errors}",
              flush=True)
        out[mode.value] = (real_spread.max_over_mean, real_spread.cv, float(real.conflicts), model[0], model[2])
    bringup.up(layout, configs.SimSettings(computes=computes, destination_computes=2))
    return out


def main() -> None:
    base = profile.load_file(PROFILE)
    print("## decision cost per request")
    print(f"{'policy':<16}{'hosts':>8}{'states':>9}{'evals':>9}{'µs (cpu)':>11}{'model s':>10}{'placement s':>13}")
    points = cost.sweep(base, (100, 1000, 10000))
    for p in points:
        print(f"{p.policy:<16}{p.hosts:>8}{p.states:>9.0f}{p.evaluations:>9.0f}{p.decide_us:>11.0f}"
              f"{p.model_seconds:>10.4f}{p.placement_seconds:>13.3f}")
    by = {(p.policy, p.hosts): p for p in points}
    ours_growth = by["opsflow", 10000].decide_us / by["opsflow", 1000].decide_us
    nova_growth = by["nova-full-scan", 10000].decide_us / by["nova-full-scan", 1000].decide_us
    print(f"opsflow µs 10,000 / 1,000 hosts: {ours_growth:.2f}x; nova full scan: {nova_growth:.2f}x")

    hosts, count = base.host_count, base.traffic[0].count  # type: ignore[union-attr]
    print(f"## model: {count} simultaneous boots over {hosts} hosts, mean of {len(SEEDS)} seeds")
    nova = model_burst(base, hosts, count, PolicyName.NOVA)
    ours = model_burst(base, hosts, count, PolicyName.OPSFLOW)
    for label, (mm, cv, conflicts) in (("nova", nova), ("opsflow", ours)):
        print(f"{label:<8} burst max/mean {mm:.2f}  CV {cv:.2f}  conflicts {conflicts:.1f}")
    summary = {"opsflow_cost_growth_1k_10k": f"{ours_growth:.2f}x", "nova_fullscan_cost_growth": f"{nova_growth:.2f}x",
               "model_burst_imbalance_nova": f"{nova[0]:.2f}", "model_burst_imbalance_opsflow": f"{ours[0]:.2f}",
               "model_conflicts_nova": f"{nova[2]:.1f}", "model_conflicts_opsflow": f"{ours[2]:.1f}"}
    if os.environ.get("OPSFLOW_SCHED_CLOUD") == "1":
        print("## the simulated cloud (real nova-scheduler)")
        for mode, (mm, cv, conflicts, model_mm, _model_conflicts) in cloud_bursts(base).items():
            summary[f"cloud_imbalance_{mode}"] = f"{mm:.2f}"
            summary[f"cloud_conflicts_{mode}"] = f"{conflicts:.0f}"
            summary[f"model_of_cloud_imbalance_{mode}"] = f"{model_mm:.2f}"
    print(", ".join(f"{k}: {v}" for k, v in summary.items()))


if __name__ == "__main__":
    main()
