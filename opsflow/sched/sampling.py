"""A uniform random sample of the hosts that pass a check, drawn so the work grows with the sample.

A sample taken before the checks can hold only hosts the checks then reject (a burst on a loaded
cloud found 16 sampled hypervisors all reported down, and nova answered "No valid host" with 80
others up). Drawing hosts in random order and keeping those that pass, until the sample is full,
gives a uniform sample of the passing hosts: it checks about ``size`` hosts when most pass, and
every host only when fewer than ``size`` do, so a valid host is never missed.

Pure Python, no nova: the nova filter uses it, and the tests run it in the project's own
virtualenv.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["sample_passing"]

Host = TypeVar("Host")


def sample_passing(hosts: Sequence[Host], passes: Callable[[Host], bool], size: int,
                   rng: random.Random | None = None) -> list[Host]:
    """Up to ``size`` hosts drawn uniformly from those for which ``passes`` is true, in draw order."""
    order = list(hosts)
    if rng is None:
        random.shuffle(order)
    else:
        rng.shuffle(order)
    kept: list[Host] = []
    for host in order:
        if passes(host):
            kept.append(host)
            if len(kept) == size:
                break
    return kept
