"""Percentiles of measured values, one definition for every report (forklift's, the ramp-up's)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

__all__ = ["percentile"]


def percentile(values: Sequence[float], share: float) -> float | None:
    """The ``share`` quantile (0.5, 0.99) of ``values``, None for none."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]
