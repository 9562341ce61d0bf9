"""``OpsflowSampleFilter``: keep a random sample of the candidates, so the rest of the scheduler's
work per request does not grow with the cloud.

nova runs every enabled filter on every candidate and every weigher on every survivor: filters ×
hosts per request. Listed first in ``[filter_scheduler] enabled_filters``, this filter passes on
only ``[opsflow_sched] sample_size`` random candidates (all of them when there are fewer); the
filters and weighers after it see no more. Placement has already removed hosts without capacity,
so a sample of what remains loses no valid choice, only nova's full ranking of them.

Load with ``[filter_scheduler] available_filters = nova.scheduler.filters.all_filters`` plus
``available_filters = opsflow.plugins.nova.sched_filter.OpsflowSampleFilter``.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

import nova.conf
from nova.scheduler import filters

from opsflow.plugins.nova import sched_opts

__all__ = ["OpsflowSampleFilter"]

CONF = nova.conf.CONF
sched_opts.register(CONF)


class OpsflowSampleFilter(filters.BaseHostFilter):  # type: ignore[misc]
    """A uniform random sample of ``sample_size`` hosts."""

    RUN_ON_REBUILD = False

    def filter_all(self, filter_obj_list: Iterable[Any], spec_obj: Any) -> list[Any]:
        hosts = list(filter_obj_list)
        size = CONF.opsflow_sched.sample_size
        if len(hosts) <= size:
            return hosts
        return random.sample(hosts, size)
