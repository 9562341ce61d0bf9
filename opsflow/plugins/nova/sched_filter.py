"""``OpsflowSampleFilter``: keep a random sample of the candidates, so the rest of the scheduler's
work per request does not grow with the cloud.

nova runs every enabled filter on every candidate and every weigher on every survivor: filters ×
hosts per request. Listed first in ``[filter_scheduler] enabled_filters``, this filter passes on
only ``[opsflow_sched] sample_size`` random candidates (all of them when there are fewer); the
filters and weighers after it see no more.

The sample is of the candidates that pass every filter listed after this one, drawn in random
order until it is full (:func:`opsflow.sched.sampling.sample_passing`). Placement has removed the
hosts without capacity, but not those whose compute service is down, disabled, or against a server
group's policy: a sample taken blind could hold only such hosts, and nova would answer "No valid
host" with others free. Drawn this way it checks about ``sample_size`` hosts while most pass, and
all of them only when few do. The later filters then run again on the sample, a few checks each.

Load with ``[filter_scheduler] available_filters = nova.scheduler.filters.all_filters`` plus
``available_filters = opsflow.plugins.nova.sched_filter.OpsflowSampleFilter``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import nova.conf
from nova.scheduler import filters

from opsflow.plugins.nova import sched_opts
from opsflow.sched.sampling import sample_passing

__all__ = ["OpsflowSampleFilter"]

CONF = nova.conf.CONF
sched_opts.register(CONF)


def _filters_after(name: str) -> list[Any]:
    """Instances of the enabled filters listed after ``name``, in their order (as nova builds them)."""
    enabled = list(CONF.filter_scheduler.enabled_filters)
    later = enabled[enabled.index(name) + 1:] if name in enabled else []
    classes = {cls.__name__: cls for cls in
               filters.HostFilterHandler().get_matching_classes(CONF.filter_scheduler.available_filters)}
    return [classes[filter_name]() for filter_name in later if filter_name in classes]


class OpsflowSampleFilter(filters.BaseHostFilter):  # type: ignore[misc]
    """A uniform random sample of ``sample_size`` of the hosts the later filters would keep."""

    RUN_ON_REBUILD = False

    def __init__(self) -> None:
        super().__init__()
        self._later: list[Any] | None = None

    def filter_all(self, filter_obj_list: Iterable[Any], spec_obj: Any) -> list[Any]:
        if self._later is None:
            self._later = _filters_after(type(self).__name__)
        later = self._later
        return sample_passing(filter_obj_list,
                              lambda host: all(f.host_passes(host, spec_obj) for f in later),
                              CONF.opsflow_sched.sample_size)
