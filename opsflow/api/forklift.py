"""``/v1/jobs/{id}/forklift``: a forklift job's report, server by server (:mod:`opsflow.forklift.report`)."""

from __future__ import annotations

import dataclasses
from typing import Any

import webob

from opsflow.api.app import Route
from opsflow.api.context import Context
from opsflow.api.jobs import resolve
from opsflow.api.services import Services
from opsflow.forklift import report

__all__ = ["report_of", "routes"]


def report_of(services: Services, run_id: str) -> dict[str, Any]:
    """The report as JSON: one row per server (downtime, bytes, rate, steps) and the totals."""
    servers = report.of_run(services.runner, run_id)
    rows = [{**dataclasses.asdict(s), "outcome": s.outcome.value} for s in servers]
    return {"servers": rows, "summary": dataclasses.asdict(report.summarize(servers))}


def routes(services: Services) -> list[Route]:
    """The forklift routes."""

    def show(request: webob.Request, context: Context, job_id: str) -> Any:
        found = resolve(services, context, job_id, "opsflow:forklift:report")
        return {"report": {"job_id": found.run_id, **report_of(services, found.run_id)}}

    return [Route("forklift_report", "/v1/jobs/{job_id}/forklift", ["GET"], show)]
