"""Exceptions raised by opsflow.

Every error says what failed and what to do about it; ids travel as attributes too, so callers can
react without parsing text. The CLI maps the tree to exit codes: the classes marked ``[2]`` are the
user's input or configuration (exit 2), everything else a failure (exit 1).

::

    OpsflowError
     +-- DefinitionError        [2] a YAML file or text is unreadable or malformed: a flow definition, a profile,
     |                              a policy, a plan, a host-access file (file:line:col in the message)
     +-- ExpressionError        [2] a ${...} is malformed, or names a value a run does not have
     +-- InvalidInput           [2] a run was given a missing, unknown or mistyped input
     |    +-- HostAccessInvalid [2] no host-access file is named, or it has a bad entry or no rule for a cloud or host
     +-- ConfigError            [2] a setting is wrong: a state URL, an address, a column name
     |    +-- StateNotFound     [2] ... the SQLite state file named does not exist (and may not be created)
     +-- PluginNotFound         [2] no installed plugin has the name, or it failed to import
     +-- FlowNotFound           [2] no stored flow or job has the given id
     +-- InvalidState           [2] the operation does not fit the flow's or job's current state
     +-- BackendUnavailable         the state backend (SQLite file, ZooKeeper) cannot be reached
     |    +-- StorageUnavailable    ... raised inside a backend (also TaskFlow's StorageFailure)
     +-- ClaimConflict              another conductor holds the job
     +-- RunOwned               [2] another live process (or conductor) owns the run's lease
     +-- LeaseLost                  this process lost a run's lease: another owner took it over
     +-- DamagedRecord              a stored run's row or node cannot be read back (names which)
     +-- ActionFailed               a task's action failed (raised inside tasks; names the task)
     |    +-- InjectedFailure       ... on purpose: --inject-failure rehearses the revert
     |    |    +-- FailedBeforeActing   ... before the action ran, so its revert is skipped
     |    +-- TaskTimeout           ... a try took longer than the task's timeout
     |    +-- ChildRunsFailed       ... a child run failed under on_item_failure: revert_all
     |    +-- VerificationFailed    ... a copy read back differs from what was written (checksum, size)
     |    +-- TransferFailed        ... a disk copy or checksum could not run (host unreachable, no disk)
     |         +-- ChecksumMismatch ... it ran, but the two ends' disks differ
     +-- WaitPending                a durable wait is not over (the engine suspends the run)
     |    +-- ChildrenPending       ... a task's child runs have not all ended
     +-- BringUpFailed              a service of the simulated cloud did not come up
     +-- CloudError                 an OpenStack cloud failed a request (names the cloud)
     |    +-- CloudNotFound     [2] ... no such cloud in clouds.yaml
     |    +-- CloudUnreachable      ... the cloud does not answer, or refuses the credentials
     +-- PlanError              [2] a forklift plan's content is wrong or does not fit the clouds
     +-- ObjectStoreError           Swift refused or failed a request (``status``: its HTTP status, 0 if none)

``StorageUnavailable`` is the one class with a third-party base: TaskFlow's engines and storage
expect a backend to raise ``StorageFailure``, so the same failure reads right on both sides.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from taskflow import exceptions as tf_exc

__all__ = [
    "ActionFailed",
    "BackendUnavailable",
    "BringUpFailed",
    "ChecksumMismatch",
    "ChildRunsFailed",
    "ChildrenPending",
    "ClaimConflict",
    "CloudError",
    "CloudNotFound",
    "CloudUnreachable",
    "ConfigError",
    "DamagedRecord",
    "DefinitionError",
    "ExpressionError",
    "FailedBeforeActing",
    "FlowNotFound",
    "HostAccessInvalid",
    "InjectedFailure",
    "InvalidInput",
    "InvalidState",
    "LeaseLost",
    "ObjectStoreError",
    "OpsflowError",
    "PlanError",
    "PluginNotFound",
    "RunOwned",
    "StateNotFound",
    "StorageUnavailable",
    "TaskTimeout",
    "TransferFailed",
    "VerificationFailed",
    "WaitPending",
    "describe_wait",
]


class OpsflowError(Exception):
    """Root of every error opsflow raises on purpose."""


class DefinitionError(OpsflowError):
    """A YAML document cannot be loaded; the message starts with ``file:line:col:``.

    Flow definitions, and every other YAML file opsflow reads (profiles, policies, plans, host
    access), are read by :func:`opsflow.flows.yamldoc.read`, so each is bounded and worded alike.
    Line 0 means no position (a file that cannot be read): then it starts with ``file:`` alone,
    never with a made-up ``:0:0``.
    """

    def __init__(self, message: str, *, source: str = "<string>", line: int = 0, column: int = 0) -> None:
        self.source = source
        self.line = line
        self.column = column
        self.reason = message
        super().__init__(f"{source}:{line}:{column}: {message}" if line > 0 else f"{source}: {message}")


class ExpressionError(OpsflowError):
    """An expression is malformed or cannot be evaluated; the loader turns it into a DefinitionError."""


class InvalidInput(OpsflowError):
    """A run's input is missing, unknown or of the wrong type."""


class ConfigError(OpsflowError):
    """A configuration value is wrong (a state URL, a ZooKeeper address, a column); the message shows the forms."""


class PluginNotFound(OpsflowError):
    """No plugin of that name is installed in the namespace, or the installed one fails to import."""

    def __init__(self, namespace: str, name: str, available: list[str], *, import_error: str | None = None) -> None:
        self.namespace = namespace
        self.name = name
        self.available = sorted(available)
        #: Why the installed plugin of that name cannot be imported; None when there is none.
        self.import_error = import_error
        if import_error is not None:
            message = (f"plugin {name!r} of entry-point namespace {namespace!r} is installed but failed to "
                       f"import: {import_error}; fix or reinstall the package that provides it")
        else:
            listing = ", ".join(self.available) or "none"
            message = (f"no plugin {name!r} in entry-point namespace {namespace!r} (installed: {listing}); "
                       f"check the spelling or install the package that provides it")
        super().__init__(message)


class FlowNotFound(OpsflowError):
    """No stored flow or job has this id."""

    def __init__(self, flow_id: str, where: str, *, kind: str = "flow", listing: str = "opsflow flows list") -> None:
        self.flow_id = flow_id
        super().__init__(f"no {kind} with id {flow_id!r} in {where}; `{listing}` shows the known ids")


class InvalidState(OpsflowError):
    """The requested operation does not fit the current state."""


class BackendUnavailable(OpsflowError):
    """The state backend cannot be reached or opened."""


class StorageUnavailable(BackendUnavailable, tf_exc.StorageFailure):  # type: ignore[misc]
    """The SQLite file or ZooKeeper ensemble cannot be reached; the message names it and the fix.

    It is both opsflow's :class:`BackendUnavailable` (what opsflow's callers catch) and TaskFlow's
    ``StorageFailure`` (what TaskFlow's storage layer retries on and its engines expect from a
    backend), so the same failure reads right on both sides of the boundary.
    """

    def __init__(self, message: str) -> None:
        tf_exc.StorageFailure.__init__(self, message)


class ClaimConflict(OpsflowError):
    """Another conductor holds the claim on this job."""


class ActionFailed(OpsflowError):
    """An action failed in a way its task reports deliberately (for example ``core.fail``)."""


class InjectedFailure(ActionFailed):
    """Raised by a task chosen with ``--inject-failure``, to prove the flow reverts cleanly."""


class FailedBeforeActing(InjectedFailure):
    """An injected failure raised before the action ran: there is nothing of it to revert."""


class TaskTimeout(ActionFailed):
    """A try took longer than the task's ``timeout``."""


class WaitPending(OpsflowError):
    """A durable wait is not over: the engine suspends the run until ``due`` or a signal."""

    def __init__(self, task_path: str, due: float | None, signal: str | None) -> None:
        self.task_path = task_path
        self.due = due
        self.signal = signal
        super().__init__(f"{task_path}: {describe_wait(due, signal)}")


class ChildrenPending(WaitPending):
    """A task's child runs have not all ended: its run waits, durably, until they have."""

    def __init__(self, task_path: str, running: int, remaining: int) -> None:
        super().__init__(task_path, None, None)
        self.args = (f"{task_path}: waiting for its child runs ({running} running, {remaining} not ended)",)


class ChildRunsFailed(ActionFailed):
    """``on_item_failure: revert_all`` and a child run failed: the batch is undone and its task fails."""


def describe_wait(due: float | None, signal: str | None) -> str:
    """``waiting until 2026-12-01T10:00:00+00:00 or signal 'go'``: a wait as an operator reads it."""
    until = None
    if due is not None:
        until = datetime.datetime.fromtimestamp(due, datetime.timezone.utc).isoformat(timespec="seconds")
    if until is not None and signal is not None:
        return f"waiting until {until} or signal {signal!r}"
    if until is not None:
        return f"waiting until {until}"
    if signal is not None:
        return f"waiting for signal {signal!r}"
    return "waiting for its child runs"


class BringUpFailed(OpsflowError):
    """A service or step of the simulated cloud did not come up; names it, says why and where its log is."""

    def __init__(self, service: str, reason: str, log: Path | None = None) -> None:
        self.service = service
        self.reason = reason
        self.log = log
        where = f"; its log is {log}" if log else ""
        super().__init__(f"devcloud: {service} did not come up: {reason}{where}")


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
    """A forklift plan cannot be used: a wrong value, or naming what does not exist.

    A plan file that cannot be read or is not YAML is a :class:`DefinitionError`, as for every YAML file.
    """


class VerificationFailed(ActionFailed):
    """A copy read back does not match what was written; nothing that depends on it may proceed."""


class ObjectStoreError(OpsflowError):
    """Swift refused or failed a request; ``status`` is the HTTP status (0 when there was none)."""

    def __init__(self, message: str, *, status: int) -> None:
        self.status = status
        super().__init__(message)


class HostAccessInvalid(InvalidInput):
    """The host-access file (how to reach hypervisors over SSH) cannot be used; the text says where and why.

    A file that cannot be read or is not YAML is a :class:`DefinitionError`, as for every YAML file.
    """


class TransferFailed(ActionFailed):
    """A disk transfer or checksum could not run; ``host`` names the hypervisor it failed on ("" if none)."""

    def __init__(self, message: str, *, host: str = "") -> None:
        self.host = host
        super().__init__(message)


class ChecksumMismatch(TransferFailed):
    """Both ends were read, and their disks differ: the copy must not be trusted (nor its source deleted)."""


class RunOwned(OpsflowError):
    """Another live process holds the run's lease: taking it (run, resume, revert) is refused.

    ``owner`` names it (``pid@host`` or the conductor's name), ``expires`` is when its lease lapses
    unless renewed (epoch seconds; None while its ZooKeeper session lives).
    """

    def __init__(self, run_id: str, owner: str, expires: float | None, *, session_timeout: float | None = None) -> None:
        self.run_id = run_id
        self.owner = owner
        self.expires = expires
        if expires is not None:
            when = datetime.datetime.fromtimestamp(expires, datetime.timezone.utc).isoformat(timespec="seconds")
            lapse = f"its lease lapses at {when} unless renewed"
        else:
            within = f" within {session_timeout:g} s" if session_timeout is not None else ""
            lapse = f"its lease lapses{within} after its ZooKeeper session ends"
        super().__init__(f"run {run_id} is owned by {owner}, which is alive; {lapse}. Wait for it to end "
                         f"(`opsflow flows show {run_id}`), or stop that process first")


class LeaseLost(OpsflowError):
    """This process no longer owns the run: another took its lease over, so nothing more may be written.

    Not a ``StorageFailure``: TaskFlow retries those, and a lost lease never comes back.
    """

    def __init__(self, run_id: str, detail: str = "") -> None:
        self.run_id = run_id
        extra = f" ({detail})" if detail else ""
        super().__init__(f"run {run_id}: this process lost its lease{extra}; another owner continues the run")
class StateNotFound(ConfigError):
    """A command that only reads or continues runs was given an SQLite state file that does not exist."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"no SQLite state file at {path}: nothing has run with this state, or the path is "
                         f"mistyped; check --state or $OPSFLOW_STATE (`opsflow run` creates the file)")


class DamagedRecord(OpsflowError):
    """A stored run cannot be read back: one of its rows or nodes is corrupted."""

    def __init__(self, run_id: str, where: str, reason: str) -> None:
        self.run_id = run_id
        #: The row (table and uuid, and the file) or node (its path) that does not decode.
        self.where = where
        self.reason = reason
        super().__init__(f"run {run_id} is damaged: {where} cannot be read ({reason}); the other runs are "
                         f"unaffected: restore that record from a backup, or delete the run's records by hand")
