"""The API's default policy: admin everywhere, members act in their project, readers only look."""

from __future__ import annotations

from pathlib import Path

from opsflow.api.policy import Enforcer

MEMBER = Enforcer.credentials("p1", "u1", ["member", "reader"])
READER = Enforcer.credentials("p1", "u2", ["reader"])
ADMIN = Enforcer.credentials("admin-project", "a", ["admin", "member", "reader"])


def test_a_member_acts_on_their_own_projects_jobs_only() -> None:
    """A member may resume a job of their project, not another project's, nor a job of no project."""
    enforcer = Enforcer()
    assert enforcer.allowed("opsflow:jobs:act", {"project_id": "p1"}, MEMBER)
    assert not enforcer.allowed("opsflow:jobs:act", {"project_id": "p2"}, MEMBER)
    assert not enforcer.allowed("opsflow:jobs:act", {"project_id": None}, MEMBER)


def test_a_reader_looks_but_does_not_act() -> None:
    """A reader reads their project's jobs and cannot submit or act."""
    enforcer = Enforcer()
    assert enforcer.allowed("opsflow:jobs:get", {"project_id": "p1"}, READER)
    assert not enforcer.allowed("opsflow:jobs:act", {"project_id": "p1"}, READER)
    assert not enforcer.allowed("opsflow:jobs:create", {"project_id": "p1"}, READER)


def test_an_admin_sees_and_acts_on_every_project() -> None:
    """An admin lists all projects' jobs and acts on jobs with no project too."""
    enforcer = Enforcer()
    assert enforcer.allowed("opsflow:jobs:list_all", {}, ADMIN)
    assert enforcer.allowed("opsflow:jobs:act", {"project_id": None}, ADMIN)
    assert not enforcer.allowed("opsflow:jobs:list_all", {}, MEMBER)


def test_a_policy_file_overrides_a_default(tmp_path: Path) -> None:
    """An operator's YAML policy file replaces a rule without touching code."""
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text('"opsflow:jobs:act": "rule:admin_required"\n')
    enforcer = Enforcer(str(policy_file))
    assert not enforcer.allowed("opsflow:jobs:act", {"project_id": "p1"}, MEMBER)
    assert enforcer.allowed("opsflow:jobs:get", {"project_id": "p1"}, MEMBER)
