"""Configuration of opsflow's scheduler plugins: the ``[opsflow_sched]`` section of nova.conf."""

from __future__ import annotations

from oslo_config import cfg

__all__ = ["GROUP", "OPTS", "register"]

GROUP = "opsflow_sched"

OPTS = [
    cfg.ListOpt("memcache_servers", default=["127.0.0.1:11211"],
                help="memcached servers (host:port) holding the placements every scheduler worker shares."),
    cfg.StrOpt("key_prefix", default="opsflow-sched",
               help="Prefix of the shared keys, one per resource provider (several clouds may share a memcached)."),
    cfg.FloatOpt("recent_seconds", default=60.0, min=1,
                 help="How long a placement counts against its host: about one resource-update interval, "
                      "the time until the compute's own report includes it."),
    cfg.IntOpt("sample_size", default=16, min=2,
               help="OpsflowSampleFilter keeps this many random candidates among those the filters after "
                    "it pass; the weighers look at no more."),
    cfg.FloatOpt("weight_multiplier", default=10.0, min=0,
                 help="Multiplier of OpsflowRuntimeWeigher; above the sum of the other weighers' "
                      "multipliers it decides alone."),
    cfg.FloatOpt("load_weight", default=0.5, min=0,
                 help="How much a fully busy host (measured cpu.percent 100) weighs against a fully "
                      "allocated one."),
    cfg.IntOpt("cas_rounds", default=3, min=1,
               help="Re-scorings after another worker reserved the chosen host first."),
]


def register(conf: cfg.ConfigOpts) -> None:
    """Register the options on ``conf`` (safe to call again)."""
    conf.register_opts(OPTS, group=GROUP)
