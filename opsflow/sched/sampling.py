"""A uniform random sample of the hosts that pass a check, drawn so the work grows with the sample.

A sample taken before the checks can hold only hosts the checks then reject (a burst on a loaded
cloud drew 16 hypervisors that nova then counted down, and it answered "No valid host" though
others were up). Drawing hosts in random order and keeping those that pass, until the sample is
full, gives a uniform sample of the passing hosts. The order is drawn one host at a time (a
Fisher-Yates shuffle stopped early), so while most hosts pass it draws and checks about ``size``
of them, not one per host of the cloud; it reaches every host only when fewer than ``size`` pass,
so a valid host is never missed.

Pure Python, no nova: the nova filter uses it, and the tests run it in the project's own
virtualenv.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from typing import TypeVar

__all__ = ["sample_passing"]

Host = TypeVar("Host")


def sample_passing(hosts: Iterable[Host], passes: Callable[[Host], bool], size: int,
                   rng: random.Random | None = None) -> list[Host]:
    """Up to ``size`` hosts drawn uniformly from those for which ``passes`` is true, in draw order."""
    order = list(hosts)
    randrange = random.randrange if rng is None else rng.randrange
    kept: list[Host] = []
    for drawn in range(len(order)):
        pick = randrange(drawn, len(order))
        order[drawn], order[pick] = order[pick], order[drawn]
        if passes(order[drawn]):
            kept.append(order[drawn])
            if len(kept) == size:
                break
    return kept
