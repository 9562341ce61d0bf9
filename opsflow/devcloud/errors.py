"""Errors of the simulated cloud's bring-up."""

from __future__ import annotations

from pathlib import Path

from opsflow.errors import OpsflowError

__all__ = ["BringUpFailed"]


class BringUpFailed(OpsflowError):
    """A service or step of the simulated cloud did not come up; names it, says why and where its log is."""

    def __init__(self, service: str, reason: str, log: Path | None = None) -> None:
        self.service = service
        self.reason = reason
        self.log = log
        where = f"; its log is {log}" if log else ""
        super().__init__(f"devcloud: {service} did not come up: {reason}{where}")
