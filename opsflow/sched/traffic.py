"""Turn a profile's traffic streams into a time-ordered list of boot requests."""

from __future__ import annotations

import math
import random

from opsflow.sched.policies.base import Request
from opsflow.sched.profile import Burst, Diurnal, Flavor, Poisson, Profile

__all__ = ["requests"]


def _pick(mix: tuple[tuple[str, float], ...], flavors: dict[str, Flavor], rng: random.Random) -> Flavor:
    names = [name for name, _ in mix]
    return flavors[rng.choices(names, weights=[w for _, w in mix])[0]]


def _poisson_times(rate: float, start: float, end: float, rng: random.Random) -> list[float]:
    times: list[float] = []
    t = start
    while True:
        t += rng.expovariate(rate)
        if t >= end:
            return times
        times.append(t)


def _diurnal_times(stream: Diurnal, end: float, rng: random.Random) -> list[float]:
    """A non-homogeneous Poisson process by thinning (Lewis and Shedler)."""
    peak = stream.rate * (1 + stream.amplitude)
    return [t for t in _poisson_times(peak, 0.0, end, rng)
            if rng.random() * peak <= stream.rate * (1 + stream.amplitude * math.sin(2 * math.pi * t / stream.period))]


def requests(profile: Profile, rng: random.Random) -> list[Request]:
    """Every request of ``profile``, ordered by arrival; bursts are numbered from 0."""
    timed: list[tuple[float, Flavor, int | None]] = []
    bursts = 0
    for stream in profile.traffic:
        if isinstance(stream, Poisson):
            end = profile.duration if stream.end is None else min(stream.end, profile.duration)
            timed += [(t, _pick(stream.flavors, profile.flavors, rng), None)
                      for t in _poisson_times(stream.rate, stream.start, end, rng)]
        elif isinstance(stream, Burst):
            step = stream.over / stream.count
            timed += [(stream.at + i * step, _pick(stream.flavors, profile.flavors, rng), bursts)
                      for i in range(stream.count)]
            bursts += 1
        else:
            timed += [(t, _pick(stream.flavors, profile.flavors, rng), None)
                      for t in _diurnal_times(stream, profile.duration, rng)]
    timed.sort(key=lambda item: item[0])
    return [Request(i, flavor, t, burst) for i, (t, flavor, burst) in enumerate(timed)]
