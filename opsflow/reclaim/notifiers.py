"""Notifiers: how an owner hears that a server will be reclaimed (plugins, ``opsflow.reclaim.notifiers``).

A policy lists them (``notify: [{email: {...}}, {webhook: {...}}]``); each gets the same
:class:`Notice` and returns a line saying whom it told. Built in: ``email`` (SMTP, one message to
the owner's Keystone e-mail, with the keep link) and ``webhook`` (a JSON POST).
"""

from __future__ import annotations

import dataclasses
import email.message
import json
import logging
import smtplib
import urllib.request
from collections.abc import Mapping
from typing import Any

from opsflow.errors import ActionFailed

__all__ = ["Email", "Notice", "Notifier", "Webhook"]

LOG = logging.getLogger(__name__)

_STAGES = {
    "notice": "will be {action}d on {deadline} unless you keep it",
    "final": "will be {action}d on {deadline}: final warning",
}


@dataclasses.dataclass(frozen=True)
class Notice:
    """What one notification says."""

    server: str
    name: str
    project: str
    owner: str
    email: str
    #: ``notice`` or ``final``.
    stage: str
    reasons: tuple[str, ...]
    #: When the action happens (ISO, UTC).
    deadline: str
    #: ``hibernate`` or ``delete``.
    action: str
    #: The signed one-time keep link, "" when the policy has none.
    keep_url: str = ""
    #: The reclaim run.
    run_id: str = ""

    @property
    def subject(self) -> str:
        """The e-mail subject."""
        what = _STAGES.get(self.stage, "is being reclaimed").format(action=self.action, deadline=self.deadline)
        return f"Your server {self.name} ({self.project}) {what}"

    @property
    def body(self) -> str:
        """The e-mail text."""
        lines = [f"Hello {self.owner},", "",
                 f"your server {self.name} (id {self.server}) in project {self.project} was picked for reclaim:"]
        lines += [f"  - {reason}" for reason in self.reasons]
        lines += ["", f"It will be {self.action}d on {self.deadline}."]
        if self.action == "hibernate":
            lines.append("Hibernated servers are kept in object storage and can be restored (opsflow restore).")
        if self.keep_url:
            lines += ["", "To keep it, open this link (it works once):", f"  {self.keep_url}"]
        lines += ["", f"Or ask an operator: opsflow reclaim keep {self.server} --days N", "",
                  f"(reclaim run {self.run_id})"]
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        """The webhook's payload."""
        return {**dataclasses.asdict(self), "reasons": list(self.reasons), "subject": self.subject}


class Notifier:
    """Base class of notifiers."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.settings = settings

    def send(self, notice: Notice) -> str:
        """Deliver the notice; return whom it told. Raise ActionFailed when it could not."""
        raise NotImplementedError


class Email(Notifier):
    """``email: {host: 127.0.0.1, port: 25, sender: reclaim@example.org, fallback: ops@example.org}``."""

    def send(self, notice: Notice) -> str:
        """One message to the owner (or ``fallback`` when the owner has no e-mail in Keystone)."""
        to = notice.email or self.settings.get("fallback", "")
        if not to:
            LOG.warning("server %s: its owner %s has no e-mail and the policy names no fallback; not mailed",
                        notice.server, notice.owner)
            return "nobody (no e-mail)"
        message = email.message.EmailMessage()
        message["From"] = self.settings.get("sender", "reclaim@localhost")
        message["To"] = to
        message["Subject"] = notice.subject
        message["X-Opsflow-Server"] = notice.server
        message["X-Opsflow-Stage"] = notice.stage
        message.set_content(notice.body)
        host, port = self.settings.get("host", "127.0.0.1"), int(self.settings.get("port", 25))
        try:
            with smtplib.SMTP(host, port, timeout=float(self.settings.get("timeout", 30))) as smtp:
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise ActionFailed(f"cannot mail {to} through SMTP {host}:{port}: {exc}; check notify.email "
                               f"host and port in the policy") from exc
        return f"mail to {to}"


class Webhook(Notifier):
    """``webhook: {url: https://chat.example.org/hook, timeout: 10}``: the notice as a JSON POST."""

    def send(self, notice: Notice) -> str:
        """POST the notice's JSON."""
        url = str(self.settings["url"])
        request = urllib.request.Request(url, data=json.dumps(notice.to_json()).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=float(self.settings.get("timeout", 10))) as response:
                response.read()
        except OSError as exc:
            raise ActionFailed(f"webhook {url} failed: {exc}; check notify.webhook.url in the policy") from exc
        return f"webhook {url}"
