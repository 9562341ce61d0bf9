"""Who may do what: oslo.policy rules with defaults in code, overridable by a policy file.

As in every OpenStack service the defaults are registered here and documented by
``oslopolicy-sample-generator``-style listing (:func:`list_rules`); an operator overrides any of
them in a YAML policy file (``policy_file`` in the API's paste section) without touching code.

Three personas, as Keystone's default roles give them (``admin`` implies ``member`` implies
``reader``, and Keystone puts the implied roles in the token):

* admin: sees and acts on every project's jobs (``all_projects=true`` lists them all);
* a project member: submits jobs into their project, and resumes, reverts, cancels and signals them;
* a project reader: lists and looks at their project's jobs only.

Reclaim follows the same lines: a reader sees their project's servers in a reclaim cycle, a
member (their owner) keeps them, an admin sees and keeps every project's.

Targets carry the job's ``project_id``: a job submitted outside the API (``opsflow submit``) has
none, so only an admin sees it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from oslo_config import cfg
from oslo_policy import policy

__all__ = ["RULES", "Enforcer", "list_rules"]

ADMIN = "role:admin"
PROJECT_READER = "role:reader and project_id:%(project_id)s"
PROJECT_MEMBER = "role:member and project_id:%(project_id)s"

RULES: tuple[policy.RuleDefault, ...] = (
    policy.RuleDefault("admin_required", ADMIN, "Operators of the cloud."),
    policy.RuleDefault("project_reader", PROJECT_READER, "Anyone with a role on the target's project."),
    policy.RuleDefault("project_member", PROJECT_MEMBER, "Members (and admins) of the target's project."),
    policy.RuleDefault("opsflow:flows:read", "role:reader",
                       "List the built-in flow definitions, show one, draw its graph."),
    policy.RuleDefault("opsflow:flows:validate", "role:reader", "Validate an uploaded definition."),
    policy.RuleDefault("opsflow:jobs:list", "role:reader", "List jobs of one's own project."),
    policy.RuleDefault("opsflow:jobs:list_all", "rule:admin_required",
                       "List jobs of every project (all_projects, project_id filters)."),
    policy.RuleDefault("opsflow:jobs:get", "rule:admin_required or rule:project_reader",
                       "Show a job with its tasks, or its graph."),
    policy.RuleDefault("opsflow:jobs:create", "rule:admin_required or role:member",
                       "Submit a job into one's own project."),
    policy.RuleDefault("opsflow:jobs:act", "rule:admin_required or rule:project_member",
                       "Resume, revert, cancel or signal a job."),
    policy.RuleDefault("opsflow:forklift:report", "rule:admin_required or rule:project_reader",
                       "Read the forklift report of a job."),
    policy.RuleDefault("opsflow:reclaim:list", "role:reader",
                       "List one's own project's servers in a reclaim cycle."),
    policy.RuleDefault("opsflow:reclaim:list_all", "rule:admin_required",
                       "List every project's servers in a reclaim cycle (all_projects)."),
    policy.RuleDefault("opsflow:reclaim:get", "rule:admin_required or rule:project_reader",
                       "Show a server's reclaim cycle and its audit log."),
    policy.RuleDefault("opsflow:reclaim:keep", "rule:admin_required or rule:project_member",
                       "Keep a server of one's project from being reclaimed."),
)


def list_rules() -> list[policy.RuleDefault]:
    """The defaults, for documentation and sample generation."""
    return list(RULES)


class Enforcer:
    """oslo.policy's enforcer with opsflow's defaults; ``policy_file`` (YAML) overrides them."""

    def __init__(self, policy_file: str | None = None) -> None:
        conf = cfg.ConfigOpts()
        conf([], project="opsflow", default_config_files=[], default_config_dirs=[])
        # Without a file, the defaults alone: oslo.policy would otherwise look for a policy.yaml.
        self._enforcer = policy.Enforcer(conf, policy_file=policy_file, use_conf=policy_file is not None)
        self._enforcer.register_defaults(RULES)
        if policy_file is None:
            self._enforcer.rules = policy.Rules({r.name: r.check for r in RULES}, "default")
        else:
            self._enforcer.load_rules()

    def allowed(self, rule: str, target: Mapping[str, Any], creds: Mapping[str, Any]) -> bool:
        """Whether ``creds`` (project_id, user_id, roles) may apply ``rule`` to ``target``."""
        return bool(self._enforcer.enforce(rule, dict(target), dict(creds)))

    @staticmethod
    def credentials(project_id: str | None, user_id: str | None, roles: Sequence[str]) -> dict[str, Any]:
        """The credential mapping oslo.policy checks."""
        return {"project_id": project_id, "user_id": user_id, "roles": [r.lower() for r in roles]}
