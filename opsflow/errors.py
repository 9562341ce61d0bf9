"""Exceptions raised by opsflow.

Every error says what failed and what to do about it; ids travel as attributes too, so callers can
react without parsing text.

::

    OpsflowError
     +-- DefinitionError        a flow definition is malformed (file:line:col in the message)
     +-- InvalidInput           a run was given a missing, unknown or mistyped input
     |    +-- HostAccessInvalid the host-access file is missing, malformed, or has no rule for a cloud or host
     +-- PluginNotFound         no installed plugin has the requested name
     +-- FlowNotFound           no stored flow or job has the given id
     +-- InvalidState           the operation does not fit the flow's or job's current state
     +-- BackendUnavailable     the state backend (SQLite file, ZooKeeper) cannot be reached
     +-- ClaimConflict          another conductor holds the job
     +-- ActionFailed           a task's action failed (raised inside tasks; carries the task name)
     |    +-- VerificationFailed a copy read back differs from what was written (checksum, size)
     |    +-- TransferFailed    a disk copy or checksum could not run (host unreachable, key refused, no disk)
     |         +-- ChecksumMismatch  it ran, but the two ends' disks differ
     +-- CloudError             an OpenStack cloud failed a request (the cloud's name in the text and attribute)
     |    +-- CloudNotFound     no such cloud in clouds.yaml
     |    +-- CloudUnreachable  the cloud does not answer, or refuses the credentials
     +-- PlanError              a forklift plan file is malformed or does not fit the clouds (file in the text)
     +-- ObjectStoreError       Swift refused or failed a request (``status``: its HTTP status, 0 if none)
"""

from __future__ import annotations

__all__ = [
    "ActionFailed",
    "BackendUnavailable",
    "ChecksumMismatch",
    "ClaimConflict",
    "CloudError",
    "CloudNotFound",
    "CloudUnreachable",
    "DefinitionError",
    "FlowNotFound",
    "HostAccessInvalid",
    "InvalidInput",
    "InvalidState",
    "ObjectStoreError",
    "OpsflowError",
    "PlanError",
    "PluginNotFound",
    "TransferFailed",
    "VerificationFailed",
]


class OpsflowError(Exception):
    """Root of every error opsflow raises on purpose."""


class DefinitionError(OpsflowError):
    """A flow definition cannot be loaded; the message starts with ``file:line:col:``."""

    def __init__(self, message: str, *, source: str = "<string>", line: int = 0, column: int = 0) -> None:
        self.source = source
        self.line = line
        self.column = column
        self.reason = message
        super().__init__(f"{source}:{line}:{column}: {message}")


class PluginNotFound(OpsflowError):
    """No plugin of that name is installed in the namespace."""

    def __init__(self, namespace: str, name: str, available: list[str]) -> None:
        self.namespace = namespace
        self.name = name
        self.available = sorted(available)
        listing = ", ".join(self.available) or "none"
        super().__init__(
            f"no plugin {name!r} in entry-point namespace {namespace!r} (installed: {listing}); "
            f"check the spelling or install the package that provides it"
        )


class FlowNotFound(OpsflowError):
    """No stored flow or job has this id."""

    def __init__(self, flow_id: str, where: str, *, kind: str = "flow", listing: str = "opsflow flows list") -> None:
        self.flow_id = flow_id
        super().__init__(f"no {kind} with id {flow_id!r} in {where}; `{listing}` shows the known ids")


class InvalidState(OpsflowError):
    """The requested operation does not fit the current state."""


class BackendUnavailable(OpsflowError):
    """The state backend cannot be reached or opened."""


class ClaimConflict(OpsflowError):
    """Another conductor holds the claim on this job."""


class ActionFailed(OpsflowError):
    """An action failed in a way its task reports deliberately (for example ``core.fail``)."""


class InvalidInput(OpsflowError):
    """A run's input is missing, unknown or of the wrong type."""


class CloudError(OpsflowError):
    """An OpenStack cloud failed a request; ``cloud`` names it (as in clouds.yaml), ``status`` the HTTP code."""

    def __init__(self, cloud: str, message: str, *, status: int | None = None) -> None:
        self.cloud = cloud
        self.status = status
        super().__init__(message)


class CloudNotFound(CloudError):
    """No cloud of that name in any clouds.yaml openstacksdk reads."""


class CloudUnreachable(CloudError):
    """The cloud's endpoints do not answer, or Keystone refuses the credentials."""


class PlanError(OpsflowError):
    """A forklift plan file cannot be used: unreadable, malformed, or naming what does not exist."""


class VerificationFailed(ActionFailed):
    """A copy read back does not match what was written; nothing that depends on it may proceed."""


class ObjectStoreError(OpsflowError):
    """Swift refused or failed a request; ``status`` is the HTTP status (0 when there was none)."""

    def __init__(self, message: str, *, status: int) -> None:
        self.status = status
        super().__init__(message)


class HostAccessInvalid(InvalidInput):
    """The host-access file (how to reach hypervisors over SSH) cannot be used; the text says where and why."""


class TransferFailed(ActionFailed):
    """A disk transfer or checksum could not run; ``host`` names the hypervisor it failed on ("" if none)."""

    def __init__(self, message: str, *, host: str = "") -> None:
        self.host = host
        super().__init__(message)


class ChecksumMismatch(TransferFailed):
    """Both ends were read, and their disks differ: the copy must not be trusted (nor its source deleted)."""
