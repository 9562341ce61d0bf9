"""A failure injected before and after every step of reclaim.yaml, up to its final action, leaves
the server as the run found it: running, untagged, without reclaim metadata, and in the audit log
as unmarked.

Notices already mailed stay sent (mail cannot be unsent; the next cycle mails afresh). The final
action itself is not in the matrix: ``delete`` is irreversible by design (the flow says so), and
``hibernate`` is a child run of hibernate.yaml, whose own matrix is in tests/functional/hibernate.
``OPSFLOW_RECLAIM_FULL_REVERT=1`` runs every case (15); CI runs three: the mark made, the decision
claimed (the owner told in between), and the last moment before the server is deleted.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opsflow.engines.atoms import FailurePoint
from opsflow.engines.records import RunState
from opsflow.engines.runner import Runner
from opsflow.flows import loader
from opsflow.flows.model import FlowDefinition
from opsflow.flows.resolver import BUILTIN_DIR
from opsflow.reclaim import marks, sweep
from opsflow.reclaim.audit import open_store
from opsflow.reclaim.inventory import Inventory
from opsflow.services.smtp import Capture
from tests.functional.reclaim.conftest import SOURCE_ADMIN, Tenancy, load_policy

pytestmark = [pytest.mark.functional, pytest.mark.slow]

def _without_retry_delays(definition: FlowDefinition) -> FlowDefinition:
    """The built-in flow with its retries kept but not spaced out: an injected failure is retried
    like any other (each try adopting the last one's work), just without 10 + 20 s of waiting."""
    tasks = tuple(dataclasses.replace(t, retry=dataclasses.replace(t.retry, delay=0.0)) if t.retry else t
                  for t in definition.tasks)
    return dataclasses.replace(definition, tasks=tasks)


DEFINITION = _without_retry_delays(loader.load_file(f"{BUILTIN_DIR}/reclaim.yaml"))
#: The steps before the final action (the hibernate fan-out, delete and record come after it).
STEPS = [t.name for t in DEFINITION.tasks][:[t.name for t in DEFINITION.tasks].index("hibernate")]
_FULL = os.environ.get("OPSFLOW_RECLAIM_FULL_REVERT") == "1"
_CI = {("mark", "after"), ("decide", "after")}
CASES = [(step, when) for step in STEPS for when in ("after", "before") if _FULL or (step, when) in _CI]
CASES += [("delete", "before")]
_RECLAIM_KEYS = (marks.STAGE_KEY, marks.DEADLINE_KEY, marks.RUN_KEY, marks.REASON_KEY)


@pytest.fixture(scope="module")
def tagged(tenancy: Tenancy) -> Iterator[Any]:
    """One running server of alice's, tagged for reclaim; every case tries to reclaim it."""
    server = tenancy.wait(tenancy.boot(tenancy.as_alice, "revert-me", tags=["reclaim-revert"]))
    yield server
    tenancy.admin.compute.delete_server(server, ignore_missing=True)


def _policy_text(tenancy: Tenancy, mail_port: int) -> str:
    return f"""
cloud: {SOURCE_ADMIN}
where: {{projects: [{tenancy.project.name}]}}
detectors:
  tagged: {{tag: reclaim-revert}}
stages: {{notice: 0s, final: 0s}}
action: delete
notify:
  - email: {{host: 127.0.0.1, port: {mail_port}, sender: reclaim@example.org}}
"""


@pytest.mark.parametrize(("step", "when"), CASES)
def test_a_failure_at_any_step_leaves_the_server_as_it_was(tenancy: Tenancy, tagged: Any, mail: Capture,
                                                          tmp_path: Path, step: str, when: str) -> None:
    """The run reverts: the server runs on, untagged and unmarked, and the log says it was unmarked."""
    state = f"sqlite:///{tmp_path}/state.db"
    rules = load_policy(tmp_path, _policy_text(tenancy, mail.port))
    with open_store(state) as store:
        found = sweep.evaluate(rules, Inventory(rules.cloud).read(), store, time.time())
    (candidate,) = [c for c in found.candidates if c.server.id == tagged.id]
    with Runner(state) as runner:
        record = runner.run(DEFINITION, sweep.run_inputs(rules, candidate, state),
                            failure_points=(FailurePoint(step, when),))

    assert record.state is RunState.REVERTED, [(t.path, t.error) for t in record.tasks if t.error]
    server = tenancy.server(tagged.id)
    assert server is not None and server.status == "ACTIVE"
    assert marks.TAG not in server.tags and "reclaim-revert" in server.tags
    assert not set(_RECLAIM_KEYS) & set(server.metadata), server.metadata
    with open_store(state) as store:
        actions = [e.action for e in store.events(tagged.id)]
    marked = step != "mark" or when == "after"
    assert ("marked" in actions) == marked and ("unmarked" in actions) == marked, actions
    assert "ended-deleted" not in actions


def test_the_matrix_covers_every_step_before_the_final_action() -> None:
    """The steps the cases name are the flow's (a renamed step fails here, not silently)."""
    assert STEPS == ["mark", "notify", "notice_wait", "recheck", "warn", "final_wait", "decide"]
    assert {step for step, _ in CASES} <= set(STEPS) | {"delete"}
