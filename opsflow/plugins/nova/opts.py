"""Configuration of the simulated hypervisor: the ``[opsflow_sim]`` section of nova-compute's config."""

from __future__ import annotations

from oslo_config import cfg

__all__ = ["GROUP", "OPTS", "register"]

GROUP = "opsflow_sim"

OPTS = [
    cfg.StrOpt("disk_dir", default="/var/lib/opsflow-sim",
               help="Root of the simulated disks; each host keeps its VMs in <disk_dir>/<host>/."),
    cfg.IntOpt("disk_mib_per_gb", default=1024, min=1,
               help="MiB of sparse file per GB of flavor root disk (scale down to keep tests cheap)."),
    cfg.IntOpt("vcpus", default=32, min=1, help="vCPUs each simulated hypervisor reports."),
    cfg.IntOpt("memory_mb", default=131072, min=1, help="RAM (MiB) each simulated hypervisor reports."),
    cfg.IntOpt("disk_gb", default=2000, min=1, help="Local disk (GB) each simulated hypervisor reports."),
    cfg.FloatOpt("spawn_seconds", default=3.0, min=0, help="How long a boot takes on the hypervisor."),
    cfg.FloatOpt("power_seconds", default=1.0, min=0, help="How long a power off or on takes."),
    cfg.FloatOpt("reboot_seconds", default=2.0, min=0, help="How long a reboot takes."),
    cfg.FloatOpt("destroy_seconds", default=0.5, min=0, help="How long tearing a VM down takes."),
    cfg.FloatOpt("live_migration_seconds", default=2.0, min=0,
                 help="How long a live migration's memory and disk copy takes before the switch-over."),
    cfg.FloatOpt("snapshot_seconds", default=1.0, min=0,
                 help="Hypervisor-side time of a snapshot, before its bytes are uploaded."),
    cfg.FloatOpt("jitter", default=0.2, min=0, max=1,
                 help="Latencies vary uniformly by this fraction either way."),
    cfg.FloatOpt("boot_failure_rate", default=0.0, min=0, max=1,
                 help="Share of boots that fail (the instance ends in ERROR, no reschedule)."),
    cfg.StrOpt("fail_metadata_key", default="opsflow-sim:fail",
               help="A server whose metadata has this key with value 'boot' always fails to boot."),
    cfg.ListOpt("silent_hosts", default=[],
                help="Hosts that stop reporting (no heartbeat). A file named SILENT in a host's "
                     "disk directory does the same at run time."),
    cfg.FloatOpt("idle_share", default=0.5, min=0, max=1,
                 help="Share of VMs that are idle (near-zero CPU, no activity since boot)."),
    cfg.StrOpt("activity_metadata_key", default="opsflow-sim:activity",
               help="Server metadata 'idle' or 'busy' under this key overrides idle_share."),
]


def register(conf: cfg.ConfigOpts) -> None:
    """Register the options on ``conf`` (safe to call again)."""
    conf.register_opts(OPTS, group=GROUP)
