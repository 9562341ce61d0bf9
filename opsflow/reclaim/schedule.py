"""The sweep as a scheduled job: ``reclaim-sweep.yaml`` sweeps, waits ``every`` seconds, posts its successor.

The flow language has no loops, so each generation's last step posts the next generation's run
(a deterministic id from the policy and the generation number, posted with the jobboard's
``post_once``): however often the step is retried, and whichever conductor runs it, one successor
exists. The wait is durable, so a sweep every six hours holds no conductor between sweeps.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid

from opsflow.engines.jobboard import Address, JobBoard
from opsflow.engines.runner import Runner
from opsflow.errors import FlowNotFound
from opsflow.flows import loader, resolver
from opsflow.reclaim.policy import Policy

__all__ = ["post", "run_id_for"]

_NAMESPACE = uuid.UUID("0b7f3f2e-8f0d-4c59-9a8e-3c1f6b2d7e10")


def run_id_for(policy: Policy, generation: int) -> str:
    """The sweep run of ``generation`` for ``policy`` (same policy text, same ids)."""
    digest = hashlib.sha256(json.dumps(policy.to_json(), sort_keys=True).encode()).hexdigest()[:16]
    return str(uuid.uuid5(_NAMESPACE, f"{digest}/{generation}"))


def post(policy: Policy, zookeeper: str, every: float, generation: int, now: float) -> tuple[str, bool]:
    """Store and post the sweep run of ``generation`` unless it exists; (run id, whether this call posted)."""
    definition = loader.load_file(os.path.join(resolver.BUILTIN_DIR, "reclaim-sweep.yaml"))
    address = Address.parse(zookeeper)
    run_id = run_id_for(policy, generation)
    with JobBoard(address) as board, Runner(address.state_url) as runner:
        try:
            runner.record(run_id)
        except FlowNotFound:
            runner.create(definition, {"policy": policy.to_json(), "zookeeper": zookeeper, "every": every,
                                       "generation": generation}, run_id=run_id)
        posted = board.post_once(run_id, definition.name, now, f"{address.root}/reclaim/sweeps/{run_id}")
    return run_id, posted
