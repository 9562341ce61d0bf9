"""Errors of the simulated cloud's bring-up (the class lives in the one tree, :mod:`opsflow.errors`)."""

from __future__ import annotations

from opsflow.errors import BringUpFailed

__all__ = ["BringUpFailed"]
