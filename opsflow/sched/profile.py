"""Traffic profiles: what the simulator runs, read from YAML with ``file:line:col`` errors.

A profile names the hypervisors (groups with capacities and a measured background load), the
flavors, the traffic (Poisson arrivals, bursts, diurnal waves, each with its flavor mix), how the
schedulers run (workers, threads, host-state refresh, nova's knobs) and which policies to compare.
Every check happens here, at load time, so a simulation never stops halfway on a bad value.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any

import jsonschema

from opsflow.flows import violations, yamldoc
from opsflow.sched import schema

__all__ = [
    "Burst",
    "Diurnal",
    "Flavor",
    "HostGroup",
    "PolicyName",
    "Poisson",
    "Profile",
    "Ratios",
    "SchedulerSettings",
    "Stream",
    "load_file",
    "load_text",
]


class PolicyName(enum.Enum):
    """The placement policies the simulator compares."""

    NOVA = "nova"
    RANDOM = "random"
    POWER_OF_TWO = "p2c"
    SPARROW = "sparrow"
    OPSFLOW = "opsflow"


@dataclass(frozen=True)
class Flavor:
    """What one VM asks of Placement."""

    name: str
    vcpus: int
    ram_mb: int
    disk_gb: int


@dataclass(frozen=True)
class Ratios:
    """Placement's allocation ratios: how far each resource may be over-committed."""

    vcpu: float = 4.0
    ram: float = 1.0
    disk: float = 1.0


@dataclass(frozen=True)
class HostGroup:
    """``count`` identical hypervisors."""

    count: int
    vcpus: int
    ram_mb: int
    disk_gb: int
    #: Mean measured CPU load of a host before any VM lands (0..1), from its own services.
    load_mean: float = 0.0
    #: Hosts' background loads spread uniformly over ``mean ± spread``.
    load_spread: float = 0.0


@dataclass(frozen=True)
class Poisson:
    """Requests arriving at ``rate`` per second, independently."""

    rate: float
    flavors: tuple[tuple[str, float], ...]
    start: float = 0.0
    end: float | None = None


@dataclass(frozen=True)
class Burst:
    """``count`` requests at ``at``, spread evenly over ``over`` seconds (a PaaS provisioning)."""

    at: float
    count: int
    over: float
    flavors: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Diurnal:
    """Poisson arrivals whose rate follows a day: ``rate * (1 + amplitude * sin(2 pi t / period))``."""

    rate: float
    amplitude: float
    period: float
    flavors: tuple[tuple[str, float], ...]


Stream = Poisson | Burst | Diurnal


@dataclass(frozen=True)
class SchedulerSettings:
    """How the scheduler workers run; nova's options keep nova's names and defaults."""

    #: Scheduler processes racing for the same hosts (each with its own host-state cache).
    workers: int = 1
    #: Requests one worker handles at once (oslo.messaging's executor threads).
    threads: int = 8
    #: A host's state in the scheduler is refreshed from its compute record this often (s).
    refresh_seconds: float = 60.0
    #: nova ``[scheduler] max_placement_results``.
    max_placement_results: int = 1000
    #: nova ``[filter_scheduler] host_subset_size``.
    host_subset_size: int = 1
    #: nova ``[filter_scheduler] shuffle_best_same_weighed_hosts``.
    shuffle_best_same_weighed_hosts: bool = False
    #: nova ``[scheduler] max_attempts``: alternates a build may be retried on.
    max_attempts: int = 3
    #: Hosts sampled by the sampling policies (opsflow, Sparrow: probes per request).
    sample_size: int = 16
    #: Seconds a placement counts as "recent" in opsflow's shared state.
    recent_seconds: float = 60.0
    #: Seconds from a claim until the VM is running and its host reports it.
    boot_seconds: float = 2.0
    #: Mean VM lifetime in seconds; 0 keeps every VM (capacity fills up).
    lifetime_seconds: float = 0.0


@dataclass(frozen=True)
class Profile:
    """One simulation: hosts, flavors, traffic and the policies to compare."""

    name: str
    source: str
    seed: int
    duration: float
    hosts: tuple[HostGroup, ...]
    ratios: Ratios
    flavors: dict[str, Flavor]
    traffic: tuple[Stream, ...]
    scheduler: SchedulerSettings
    policies: tuple[PolicyName, ...]
    #: Host counts for the decision-cost sweep (the model alone, no traffic).
    cost_hosts: tuple[int, ...] = field(default=(10, 100, 1000, 10000))

    @property
    def host_count(self) -> int:
        """Hypervisors in all groups."""
        return sum(g.count for g in self.hosts)


_VALIDATOR = jsonschema.Draft202012Validator(schema.PROFILE_SCHEMA)


def load_file(path: str | FilePath) -> Profile:
    """Read and validate the profile at ``path``."""
    return _profile(yamldoc.read(path))


def load_text(text: str, source: str = "<string>") -> Profile:
    """Parse and validate a profile; any mistake raises ``DefinitionError`` at its line and column."""
    return _profile(yamldoc.parse(text, source))


def _profile(doc: yamldoc.Document) -> Profile:
    if not isinstance(doc.value, dict):
        raise doc.error((), "a traffic profile is a mapping with 'name', 'hosts', 'flavors' and 'traffic'")
    violations.check(doc, _VALIDATOR, "the profile", schema.explain, schema.location)
    raw: dict[str, Any] = doc.value
    flavors = {name: Flavor(name, f["vcpus"], f["ram_mb"], f["disk_gb"]) for name, f in raw["flavors"].items()}
    traffic = tuple(_stream(doc, index, item, flavors) for index, item in enumerate(raw["traffic"]))
    sched = SchedulerSettings(**raw.get("scheduler", {}))
    if sched.host_subset_size > sched.max_placement_results:
        raise doc.error(("scheduler", "host_subset_size"),
                        "host_subset_size is larger than max_placement_results; lower it")
    cost = tuple(raw.get("cost_hosts", (10, 100, 1000, 10000)))
    return Profile(
        name=raw["name"], source=doc.source, seed=raw.get("seed", 1), duration=float(raw["duration"]),
        hosts=tuple(_group(g) for g in raw["hosts"]), ratios=Ratios(**raw.get("allocation_ratios", {})),
        flavors=flavors, traffic=traffic, scheduler=sched,
        policies=tuple(PolicyName(p) for p in raw.get("policies", [p.value for p in PolicyName])),
        cost_hosts=cost,
    )


def _group(raw: dict[str, Any]) -> HostGroup:
    load = raw.get("load", {})
    return HostGroup(raw["count"], raw["vcpus"], raw["ram_mb"], raw["disk_gb"],
                     load.get("mean", 0.0), load.get("spread", 0.0))


def _stream(doc: yamldoc.Document, index: int, item: dict[str, Any], flavors: dict[str, Flavor]) -> Stream:
    (kind, raw), = item.items()
    mix = raw["flavors"]
    for name in mix:
        if name not in flavors:
            raise doc.error(("traffic", index, kind, "flavors", name),
                            f"unknown flavor {name!r}; defined flavors: {', '.join(sorted(flavors))}")
    weights = tuple((name, float(w)) for name, w in mix.items())
    if kind == "poisson":
        end = raw.get("end")
        if end is not None and end <= raw.get("start", 0.0):
            raise doc.error(("traffic", index, kind, "end"), "end must come after start")
        return Poisson(float(raw["rate"]), weights, float(raw.get("start", 0.0)),
                       None if end is None else float(end))
    if kind == "burst":
        if raw["at"] >= doc.value["duration"]:
            raise doc.error(("traffic", index, kind, "at"),
                            f"the burst starts at {raw['at']} s, after the profile's duration "
                            f"({doc.value['duration']} s); move it earlier or lengthen the run")
        return Burst(float(raw["at"]), raw["count"], float(raw.get("over", 0.0)), weights)
    return Diurnal(float(raw["rate"]), float(raw.get("amplitude", 0.5)), float(raw.get("period", 86400.0)),
                   weights)
