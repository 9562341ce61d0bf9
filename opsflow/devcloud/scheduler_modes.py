"""How the simulated cloud's nova-scheduler chooses hosts: ``opsflow devcloud up --scheduler MODE``.

Each mode is a small nova.conf overlay passed to the conductor/scheduler process as a second
``--config-file`` (oslo.config: later files win). Every overlay is always written, and only the
command line names one, so switching modes restarts that one process instead of rebuilding the
cloud.

* ``devcloud`` (default): the cloud's own spread settings (shuffle equally weighed hosts, pick from
  the best three), kept as they were;
* ``nova-defaults``: nova's own defaults, the behaviour shared/TESTBED.md measured (a burst of 10
  boots on 5 of 10 hosts);
* ``opsflow``: nova's defaults plus opsflow's ``OpsflowSampleFilter`` (first) and
  ``OpsflowRuntimeWeigher``, sharing recent placements through the cloud's memcached.
"""

from __future__ import annotations

import enum
from pathlib import Path

from opsflow.devcloud import layout as lay

__all__ = ["SchedulerMode", "files", "overlay"]


class SchedulerMode(enum.Enum):
    """Which placement the simulated cloud's schedulers use."""

    DEVCLOUD = "devcloud"
    NOVA_DEFAULTS = "nova-defaults"
    OPSFLOW = "opsflow"


_NOVA_DEFAULTS = """\
[filter_scheduler]
shuffle_best_same_weighed_hosts = false
host_subset_size = 1
"""

#: nova 34's default ``enabled_filters``, after opsflow's sample.
_FILTERS = ("OpsflowSampleFilter,ComputeFilter,ComputeCapabilitiesFilter,ImagePropertiesFilter,"
            "ServerGroupAntiAffinityFilter,ServerGroupAffinityFilter")


def overlay(region: lay.RegionLayout, mode: SchedulerMode) -> Path:
    """The overlay file of ``mode`` in ``region``."""
    return region.root / "nova" / f"scheduler-{mode.value}.conf"


def files(layout: lay.Layout, region: lay.RegionLayout) -> dict[Path, str]:
    """Every mode's overlay for ``region``."""
    opsflow = (_NOVA_DEFAULTS
               # available_filters is a multi-valued option: one line per source of filters
               + "available_filters = nova.scheduler.filters.all_filters\n"
               + "available_filters = opsflow.plugins.nova.sched_filter.OpsflowSampleFilter\n"
               + f"enabled_filters = {_FILTERS}\n"
               + "weight_classes = nova.scheduler.weights.all_weighers,"
                 "opsflow.plugins.nova.sched_weigher.OpsflowRuntimeWeigher\n"
               + "\n[opsflow_sched]\n"
               + f"memcache_servers = 127.0.0.1:{layout.memcached_port}\n"
               + f"key_prefix = {region.vhost}\n")
    text = {SchedulerMode.DEVCLOUD: "# the simulated cloud's own scheduler settings (nova.conf) unchanged\n",
            SchedulerMode.NOVA_DEFAULTS: _NOVA_DEFAULTS,
            SchedulerMode.OPSFLOW: opsflow}
    return {overlay(region, mode): body for mode, body in text.items()}
