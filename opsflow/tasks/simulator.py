"""Ramp-up actions on the simulated cloud: grow it, load it and measure, judge a step, write the report.

The steps of ``definitions/simulator-step.yaml`` and ``simulator-rampup.yaml``. Each step's verdict
is a record in the report directory (``step-N.json``), written by :class:`Judge`; a step that
finds an earlier step's breach there does nothing (the flow language has no conditions, so the
"skipped" verdict travels from :class:`Scale` to the later steps as data, as reclaim's does).
The cloud is the one of ``$OPSFLOW_DEVCLOUD_HOME`` / ``$OPSFLOW_DEVCLOUD_PORT_BASE``.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from opsflow import clouds
from opsflow.clouds import CloudAction
from opsflow.devcloud import bringup
from opsflow.devcloud.layout import Layout
from opsflow.simulate import load, probes, report, verdict
from opsflow.simulate.profile import RampProfile

__all__ = ["Judge", "Measure", "Report", "Scale"]

LOG = logging.getLogger(__name__)


def _record_path(directory: str, index: int) -> Path:
    return Path(directory) / f"step-{index}.json"


def _breached_before(directory: str, index: int) -> int | None:
    """The first step before ``index`` whose record says it breached the SLO, if any."""
    for earlier in range(index):
        path = _record_path(directory, earlier)
        if path.exists() and json.loads(path.read_text())["breaches"]:
            return earlier
    return None


def _hypervisors(cloud: str) -> int:
    return sum(1 for s in clouds.connect(cloud).compute.services(binary="nova-compute") if s.state == "up")


class Scale(CloudAction):
    """Grow the region to the step's hypervisors (only the compute processes restart)."""

    doing = "growing the simulated cloud"

    def execute(self, cloud: str, profile: dict[str, Any], index: int, report_dir: str) -> dict[str, Any]:
        """``{skipped, hypervisors, before}``; skipped when an earlier step breached the SLO."""
        ramp = RampProfile.from_json(profile)
        before = _hypervisors(cloud)
        if self.context.remember is not None:
            before = self.context.remember("before", before)
        breached = _breached_before(report_dir, index)
        if breached is not None:
            LOG.info("step %d: skipped, step %d breached the SLO", index, breached)
            return {"skipped": True, "hypervisors": before, "before": before}
        wanted = ramp.steps[index].hypervisors
        if wanted != before:
            LOG.info("step %d: %s", index, bringup.resize(Layout.default(), ramp.region, wanted,
                                                           ramp.other_region_hypervisors))
        return {"skipped": False, "hypervisors": wanted, "before": before}

    def revert(self, cloud: str, profile: dict[str, Any], index: int, **kwargs: Any) -> None:
        """Back to the size before this step, if it changed."""
        ramp = RampProfile.from_json(profile)
        remember = self.context.remember
        before = remember("before", None) if remember is not None else None
        if before is not None and before != _hypervisors(cloud):
            bringup.resize(Layout.default(), ramp.region, before, ramp.other_region_hypervisors)


class Measure(CloudAction):
    """Boot and delete servers at the step's rate, timing every call, and sample the control plane."""

    doing = "loading the simulated cloud"

    def _prefix(self) -> str:
        return f"ramp-{clouds.short_tag(self.context.tag).removeprefix('opsflow-')[:12]}"

    def execute(self, cloud: str, profile: dict[str, Any], index: int, hypervisors: int,
                skip: bool = False) -> dict[str, Any] | None:
        """The step's :class:`~opsflow.simulate.verdict.Measures` as JSON; None when skipped."""
        if skip:
            return None
        ramp = RampProfile.from_json(profile)
        conn = clouds.connect(cloud)
        load.remove(conn, self._prefix())  # an earlier attempt's servers: its measures are lost with it
        layout = Layout.default()
        first = probes.sample(layout)
        boots = load.churn(conn, ramp.steps[index], ramp.servers, self._prefix())
        last = probes.sample(layout)
        load.remove(conn, self._prefix())
        return verdict.measure(hypervisors, boots, first, last).to_json()

    def revert(self, cloud: str, **kwargs: Any) -> None:
        """Delete whatever servers the step left."""
        load.remove(clouds.connect(cloud), self._prefix())


class Judge(CloudAction):
    """The step against the SLO; its record tells later steps whether to go on."""

    doing = "judging the step"

    def execute(self, cloud: str, profile: dict[str, Any], index: int, report_dir: str,
                measures: dict[str, Any] | None) -> dict[str, Any] | None:
        """The step's :class:`~opsflow.simulate.verdict.Verdict` as JSON; None when skipped."""
        if measures is None:
            return None
        ramp = RampProfile.from_json(profile)
        said = verdict.judge(index, verdict.Measures(**measures), ramp.slo).to_json()
        path = _record_path(report_dir, index)
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_suffix(".part")
        part.write_text(json.dumps(said, indent=2))
        os.replace(part, path)
        return said

    def revert(self, report_dir: str, index: int, **kwargs: Any) -> None:
        """Remove the step's record (the step is undone)."""
        _record_path(report_dir, index).unlink(missing_ok=True)


class Report(CloudAction):
    """Markdown with plots from the step records: every measure per step, the breach, the bottleneck."""

    doing = "writing the ramp-up report"

    def execute(self, cloud: str, profile: dict[str, Any], report_dir: str) -> dict[str, Any]:
        """``{path, breached, bottleneck, steps}``."""
        ramp = RampProfile.from_json(profile)
        records = [json.loads(_record_path(report_dir, i).read_text()) for i in range(len(ramp.steps))
                   if _record_path(report_dir, i).exists()]
        written = report.write(Path(report_dir), ramp, records)
        breach = next((r for r in records if r["breaches"]), None)
        return {"path": str(written), "steps": len(records), "breached": breach is not None,
                "bottleneck": breach["bottleneck"] if breach else ""}

    def revert(self, **kwargs: Any) -> None:
        """The report stays: it describes what was measured."""
