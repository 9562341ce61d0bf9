"""How simulated hypervisors behave under the operator's profile: latencies, failures, heartbeats, disks.

An operator writes a behaviour profile in YAML (``opsflow devcloud profile apply FILE``, validated
by :mod:`opsflow.devcloud.profiles`); what the hypervisors read is its validated JSON form, one
file per region's disk directory (:data:`PROFILE_FILE`). Each simulated host checks the file's
modification time before it acts, so a profile changes behaviour while everything runs and no
service restarts. Host groups are matched in order; the first whose glob matches a host applies.

Only the standard library is used here: the nova-compute process reads profiles without opsflow's
dependencies, and opsflow's tests exercise this module without nova.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import math
import os
import random
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["OPERATIONS", "PROFILE_FILE", "Behaviour", "Group", "Latency"]

#: Name of the applied profile in a region's disk directory.
PROFILE_FILE = "PROFILE.json"
#: Hypervisor operations a profile can time or fail.
OPERATIONS = ("spawn", "power", "reboot", "destroy", "snapshot", "live_migration")
#: z-score of the 99th percentile of a normal distribution (lognormal latencies are given by p99).
_Z99 = 2.3263478740408408


@dataclasses.dataclass(frozen=True)
class Latency:
    """A latency distribution in seconds: fixed, uniform between two bounds, or lognormal."""

    #: ``fixed``, ``uniform`` or ``lognormal``.
    kind: str
    #: fixed: (seconds,); uniform: (low, high); lognormal: (median, p99).
    values: tuple[float, ...]

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Latency:
        """From a profile entry: ``{fixed: S}``, ``{uniform: [LOW, HIGH]}`` or ``{median: M, p99: P}``."""
        if "fixed" in spec:
            return cls("fixed", (float(spec["fixed"]),))
        if "uniform" in spec:
            low, high = spec["uniform"]
            return cls("uniform", (float(low), float(high)))
        return cls("lognormal", (float(spec["median"]), float(spec["p99"])))

    def sample(self, rng: random.Random) -> float:
        """One latency drawn from the distribution."""
        if self.kind == "fixed":
            return self.values[0]
        if self.kind == "uniform":
            return rng.uniform(*self.values)
        median, p99 = self.values
        sigma = math.log(p99 / median) / _Z99 if p99 > median > 0 else 0.0
        return median * math.exp(rng.gauss(0.0, sigma)) if median > 0 else 0.0


@dataclasses.dataclass(frozen=True)
class Group:
    """What a profile says about the hosts matching ``hosts``."""

    #: Host name globs (``sim-sou-00*``).
    hosts: tuple[str, ...]
    #: Operation -> its latency.
    latency: Mapping[str, Latency] = dataclasses.field(default_factory=dict)
    #: Operation -> the share of its calls that fail.
    failures: Mapping[str, float] = dataclasses.field(default_factory=dict)
    #: Disk throughput in MiB/s for writes and copies (a slow disk), or None for no limit.
    disk_mib_per_second: float | None = None
    #: The heartbeat stops for good.
    heartbeat_stopped: bool = False
    #: The heartbeat flaps: (period, down) seconds; down for the first ``down`` of every period.
    flap: tuple[float, float] | None = None

    def matches(self, host: str) -> bool:
        return any(fnmatch.fnmatchcase(host, pattern) for pattern in self.hosts)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Group:
        """From one validated entry of a profile's ``groups``."""
        hosts = spec["hosts"]
        heartbeat = spec.get("heartbeat", {})
        flap = heartbeat.get("flap")
        return cls(
            hosts=(hosts,) if isinstance(hosts, str) else tuple(hosts),
            latency={op: Latency.from_spec(s) for op, s in spec.get("latency", {}).items()},
            failures={op: float(share) for op, share in spec.get("failures", {}).items()},
            disk_mib_per_second=spec.get("disk_mib_per_second"),
            heartbeat_stopped=bool(heartbeat.get("stop", False)),
            flap=(float(flap["period"]), float(flap["down"])) if flap else None,
        )


class Behaviour:
    """The applied profile of one region, re-read whenever its file changes."""

    def __init__(self, disk_dir: Path, rng: random.Random | None = None) -> None:
        self._path = disk_dir / PROFILE_FILE
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._groups: Sequence[Group] = ()

    def group(self, host: str) -> Group | None:
        """The first group of the current profile that matches ``host``, if any."""
        for group in self._current():
            if group.matches(host):
                return group
        return None

    def latency(self, host: str, operation: str, default: float) -> float | None:
        """The profile's latency for ``operation`` on ``host``, or None to use the default timing."""
        group = self.group(host)
        if group is None or operation not in group.latency:
            return None
        with self._lock:
            return max(0.0, group.latency[operation].sample(self._rng))

    def failure(self, host: str, operation: str) -> str:
        """Why this call of ``operation`` on ``host`` fails under the profile, or "" if it does not."""
        group = self.group(host)
        share = group.failures.get(operation, 0.0) if group else 0.0
        with self._lock:
            failed = share > 0 and self._rng.random() < share
        return f"{operation} failure injected by the behaviour profile (rate {share})" if failed else ""

    def disk_seconds(self, host: str, nbytes: int) -> float:
        """Extra time a slow disk takes to write or copy ``nbytes``."""
        group = self.group(host)
        if group is None or not group.disk_mib_per_second:
            return 0.0
        return nbytes / (group.disk_mib_per_second * (1 << 20))

    def silent(self, host: str, now: float) -> bool:
        """Whether ``host``'s heartbeat is down at ``now`` (stopped, or in the down part of a flap)."""
        group = self.group(host)
        if group is None:
            return False
        if group.heartbeat_stopped:
            return True
        if group.flap:
            period, down = group.flap
            return (now % period) < down
        return False

    def _current(self) -> Sequence[Group]:
        try:
            stat = os.stat(self._path)
        except FileNotFoundError:
            self._stamp, self._groups = None, ()
            return ()
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            try:
                groups = tuple(Group.from_spec(g) for g in json.loads(self._path.read_text())["groups"])
            except (OSError, ValueError, KeyError, TypeError):
                return self._groups  # being replaced right now: keep the last good profile
            self._stamp, self._groups = stamp, groups
        return self._groups
