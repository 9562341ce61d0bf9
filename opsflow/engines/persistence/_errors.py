"""The one error opsflow's persistence backends add: the store cannot be reached or opened."""

from __future__ import annotations

from taskflow import exceptions as tf_exc

from opsflow.errors import BackendUnavailable

__all__ = ["StorageUnavailable"]


class StorageUnavailable(BackendUnavailable, tf_exc.StorageFailure):  # type: ignore[misc]
    """The SQLite file or ZooKeeper ensemble cannot be reached; the message names it and the fix.

    It is both opsflow's :class:`~opsflow.errors.BackendUnavailable` (what opsflow's callers catch)
    and TaskFlow's ``StorageFailure`` (what TaskFlow's storage layer retries on and its engines
    expect from a backend), so the same failure reads right on both sides of the boundary.
    """

    def __init__(self, message: str) -> None:
        tf_exc.StorageFailure.__init__(self, message)
