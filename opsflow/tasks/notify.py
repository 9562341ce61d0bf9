"""``notify.owner``: tell a server's owner, through every notifier of the policy, what reclaim will do;
``notify.user``: tell a Keystone user anything (a key rotation's notice) through the notifiers given.

Delivery is at-least-once, like every task's: a crash while it sends (a conductor dying in the
middle) makes the next try send again, so an owner may get one notice twice, never none. The keep
link is fixed at the first try (durable memory), so both copies carry the same link.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from opsflow import clouds, registry
from opsflow.clouds import CloudAction
from opsflow.reclaim import links, marks
from opsflow.reclaim.audit import Event, open_store
from opsflow.notifiers import GROUP, Message, Notifier
from opsflow.reclaim.notice import Notice
from opsflow.reclaim.policy import NOTIFIERS, Policy

__all__ = ["NotifyOwner", "NotifyUser"]

LOG = logging.getLogger(__name__)


class NotifyOwner(CloudAction):
    """Send the notice (``stage: notice``) or the final warning (``stage: final``), with a keep link."""

    doing = "notifying the owner"

    def execute(self, cloud: str, server: str, name: str, project: str, owner: str, email: str, reasons: list[str],
                stage: str, deadline: str, policy: Mapping[str, Any], store: str, skip: bool = False) -> dict[str, Any]:
        """``{sent: [whom each notifier told]}``; nothing when ``skip`` (a verdict was reached already)."""
        if skip:
            return {"sent": []}
        rules = Policy.from_json(policy)
        now = self.context.clock.now()
        if stage != "notice":
            marks.set_stage(clouds.connect(cloud), server, stage)
        keep_url = ""
        if rules.link_url:
            token = links.new_link(links.key_of(rules.link_key), server, self.context.run_id, rules.keep_days,
                                   now + rules.link_ttl)
            if self.context.remember is not None:
                token = self.context.remember(f"link:{stage}", token)
            keep_url = f"{rules.link_url.rstrip('/')}/keep?t={token}"
        notice = Notice(server, name, project, owner, email, stage, tuple(reasons), deadline, rules.action, keep_url,
                        self.context.run_id)
        sent = []
        for entry in rules.notify:
            kind, settings = next(iter(entry.items()))
            notifier: Notifier = registry.fetch(NOTIFIERS, kind)(settings or {})
            sent.append(notifier.send(notice.message()))
        with open_store(store) as audit:
            audit.append(Event(now, server, "notified", "reclaim", notice.subject, self.context.run_id,
                               {"stage": stage, "sent": sent}))
        return {"sent": sent}

    def revert(self, **kwargs: Any) -> None:
        """A notice cannot be unsent."""


class NotifyUser(CloudAction):
    """Send ``subject`` and ``body`` to a Keystone user (the cloud's own by default), e-mail from Keystone."""

    doing = "notifying the user"
    argument_schema = {"notify": {"type": "array", "minItems": 1,
                                  "items": {"type": "object", "minProperties": 1, "maxProperties": 1},
                                  "description": "notifiers, each {NAME: SETTINGS}: [{email: {host: H, port: P}}]"}}

    def execute(self, cloud: str, subject: str, body: str, notify: list[dict[str, Any]],
                user: str = "") -> dict[str, Any]:
        """``{sent: [whom each notifier told]}``."""
        conn = clouds.connect(cloud)
        found = conn.identity.get_user(str(user or conn.current_user_id))
        message = Message(found.name, found.email or "", subject, body, {"X-Opsflow-Run": self.context.run_id},
                          {"user_id": found.id, "body": body, "run_id": self.context.run_id})
        sent = []
        for entry in notify:
            kind, settings = next(iter(entry.items()))
            notifier: Notifier = registry.fetch(GROUP, kind)(settings or {})
            sent.append(notifier.send(message))
        return {"sent": sent}

    def revert(self, **kwargs: Any) -> None:
        """A notice cannot be unsent."""
