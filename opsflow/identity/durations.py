"""Expiry given on the command line: a duration (``90d``, ``12h``, ``30m``) or a date/time."""

from __future__ import annotations

import datetime
import re

from opsflow.errors import InvalidInput

__all__ = ["expiry"]

_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def expiry(text: str, now: float) -> float | None:
    """Epoch seconds ``text`` names from ``now``; None for ``never``."""
    value = text.strip().lower()
    if value == "never":
        return None
    match = re.fullmatch(r"(\d+)([mhdw])", value)
    if match:
        return now + int(match.group(1)) * _UNITS[match.group(2)]
    try:
        moment = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"expiry {text!r}: give a duration such as 90d, 12h, 2w, or a date such as "
                           "2027-03-01 or 2027-03-01T12:00:00+00:00, or never") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()
