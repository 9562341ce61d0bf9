"""Detectors: each decides from the inventory whether a server is worth reclaiming, and says why.

A detector is a class registered under the entry-point group ``opsflow.reclaim.detectors``; the
policy names it, gives it settings (checked at load time by :meth:`Detector.check`) and a scope.
:meth:`Detector.find` returns the sentence that goes into the owner's notice ("never became
ACTIVE: ERROR for 3 days since it was created"), or None. Operators add their own by subclassing
:class:`Detector` and registering it.

Built in: ``boot_failure``, ``owner_disabled``, ``idle``, ``expired``, ``tagged``.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, ClassVar

from opsflow.reclaim.inventory import Inventory, ServerView, parse_time
from opsflow.reclaim.policy import seconds

__all__ = ["BootFailure", "Detector", "Expired", "Idle", "OwnerDisabled", "Tagged"]


def _ago(now: float, then: float) -> str:
    days = (now - then) / 86400
    if days >= 1:
        return f"{days:.0f} days"
    hours = (now - then) / 3600
    return f"{hours:.0f} hours" if hours >= 1 else f"{(now - then) / 60:.0f} minutes"


def _when(moment: float) -> str:
    return datetime.datetime.fromtimestamp(moment, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


class Detector:
    """Base class of detectors; subclasses set :attr:`DEFAULTS` and implement :meth:`find`."""

    #: Settings and their defaults; a setting not listed here is refused at load time.
    DEFAULTS: ClassVar[Mapping[str, Any]] = {}
    #: Settings that are durations (``7d``), turned into seconds.
    DURATIONS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.check(settings)
        values = {**self.DEFAULTS, **settings}
        for key in self.DURATIONS:
            values[key] = seconds(values[key])
        self.settings: Mapping[str, Any] = values

    @classmethod
    def check(cls, settings: Mapping[str, Any]) -> None:
        """Refuse unknown settings and bad durations (ValueError naming the setting and the fix)."""
        unknown = sorted(set(settings) - set(cls.DEFAULTS))
        if unknown:
            raise ValueError(f"unknown setting {unknown[0]!r}; this detector takes: "
                             f"{', '.join(sorted(cls.DEFAULTS)) or 'none'}")
        for key in cls.DURATIONS:
            if key in settings:
                try:
                    seconds(settings[key])
                except (ValueError, TypeError) as exc:
                    raise ValueError(f"{key}: {exc}") from None

    def find(self, server: ServerView, inventory: Inventory, now: float) -> str | None:
        """Why ``server`` is a candidate, or None."""
        raise NotImplementedError


class BootFailure(Detector):
    """ERROR, or never ACTIVE, some time after it was created."""

    DEFAULTS = {"after": "1h"}
    DURATIONS = ("after",)

    def find(self, server: ServerView, inventory: Inventory, now: float) -> str | None:
        """Candidate when in ERROR, or never launched, longer than ``after`` after creation."""
        if server.created is None or now - server.created < self.settings["after"]:
            return None
        if server.status == "ERROR":
            return f"it failed to boot: ERROR since it was created {_ago(now, server.created)} ago"
        if server.launched is None and server.status not in ("ACTIVE", "SHUTOFF", "PAUSED", "SUSPENDED"):
            return f"it never became ACTIVE: {server.status} for {_ago(now, server.created)} since it was created"
        return None


class OwnerDisabled(Detector):
    """Its owner user or project is disabled or deleted in Keystone."""

    DEFAULTS = {"users": True, "projects": True}

    def find(self, server: ServerView, inventory: Inventory, now: float) -> str | None:
        """Candidate when the user or project is missing from Keystone's listing, or disabled."""
        owners = (("projects", inventory.projects.get(server.project_id), f"its project {server.project_id}",
                   "its project"),
                  ("users", inventory.users.get(server.user_id), f"its owner (user {server.user_id})", "its owner"))
        for setting, found, missing, named in owners:
            if not self.settings[setting]:
                continue
            if found is None:
                return f"{missing} no longer exists in Keystone"
            if not found.enabled:
                return f"{named} {found.name} is disabled in Keystone"
        return None


class Idle(Detector):
    """No power-on, or no CPU activity, for ``days`` days (from the hypervisor's diagnostics)."""

    DEFAULTS = {"days": 14, "cpu_percent": 2.0}

    def find(self, server: ServerView, inventory: Inventory, now: float) -> str | None:
        """SHUTOFF for ``days`` days, or ACTIVE and idle since longer; only the survivors of the
        cheap checks cost a diagnostics call."""
        window = float(self.settings["days"]) * 86400
        since = server.launched or server.created
        if since is None or now - since < window:
            return None
        if server.status == "SHUTOFF":
            return f"it has been powered off and unused for more than {self.settings['days']} days"
        if server.status != "ACTIVE":
            return None
        diagnostics = inventory.diagnostics(server.id)
        if not diagnostics:
            return None
        last = parse_time(diagnostics.get("last_activity"))
        if last is None:  # a hypervisor without the simulator's key: CPU seconds over uptime
            uptime = float(diagnostics.get("uptime") or 0)
            cpu = sum(float(v) for k, v in diagnostics.items() if k.startswith("cpu") and k.endswith("_time"))
            if uptime < window or uptime <= 0 or 100 * cpu / 1e9 / uptime >= float(self.settings["cpu_percent"]):
                return None
            return f"its CPU has been idle (under {self.settings['cpu_percent']}%) for {_ago(now, now - uptime)}"
        if now - last < window:
            return None
        return f"it has shown no CPU activity since {_when(last)} ({_ago(now, last)})"


class Expired(Detector):
    """A lease metadata key (``key``, an ISO date or time) lies in the past."""

    DEFAULTS = {"key": "lease-until"}

    def find(self, server: ServerView, inventory: Inventory, now: float) -> str | None:
        """Candidate when the server's ``key`` metadata names a moment before now."""
        value = server.metadata.get(self.settings["key"])
        until = parse_time(value)
        if until is None or until > now:
            return None
        return f"its lease ({self.settings['key']}={value}) expired {_ago(now, until)} ago"


class Tagged(Detector):
    """Explicitly tagged for reclaim (Nova tag ``tag``)."""

    DEFAULTS = {"tag": "reclaim"}

    def find(self, server: ServerView, inventory: Inventory, now: float) -> str | None:
        """Candidate when the server carries the tag."""
        if self.settings["tag"] in server.tags:
            return f"it was tagged {self.settings['tag']!r} for reclaim"
        return None
