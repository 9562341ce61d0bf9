"""Notifiers: how a person hears what a flow is about to do to something of theirs (plugins,
``opsflow.notifiers``).

A flow lists them (reclaim's policy ``notify: [{email: {...}}, {webhook: {...}}]``, a key rotation's
``notify`` input); each gets the same :class:`Message` and returns a line saying whom it told.
Built in: ``email`` (SMTP, one message to the person's Keystone e-mail), ``webhook`` (a JSON POST)
and ``log`` (a line in the process's log, for clouds where nobody reads mail).
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

__all__ = ["GROUP", "Email", "Log", "Message", "Notifier", "Webhook"]

LOG = logging.getLogger(__name__)

#: Entry-point group of notifiers.
GROUP = "opsflow.notifiers"


@dataclasses.dataclass(frozen=True)
class Message:
    """What one notification says, and to whom."""

    #: Whom it is for (a user name, for lines and logs) and their e-mail ("" when Keystone has none).
    recipient: str
    email: str
    subject: str
    body: str
    #: Extra mail headers (``X-Opsflow-Server``) and the webhook's JSON document.
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    payload: Mapping[str, Any] = dataclasses.field(default_factory=dict)


class Notifier:
    """Base class of notifiers."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.settings = settings

    def send(self, message: Message) -> str:
        """Deliver the message; return whom it told. Raise ActionFailed when it could not."""
        raise NotImplementedError


class Email(Notifier):
    """``email: {host: 127.0.0.1, port: 25, sender: reclaim@example.org, fallback: ops@example.org}``."""

    def send(self, message: Message) -> str:
        """One mail to the recipient (or ``fallback`` when they have no e-mail in Keystone)."""
        to = message.email or self.settings.get("fallback", "")
        if not to:
            LOG.warning("%s has no e-mail and no fallback is set; not mailed: %s", message.recipient,
                        message.subject)
            return "nobody (no e-mail)"
        mail = email.message.EmailMessage()
        mail["From"] = self.settings.get("sender", "opsflow@localhost")
        mail["To"] = to
        mail["Subject"] = message.subject
        for name, value in message.headers.items():
            mail[name] = value
        mail.set_content(message.body)
        host, port = self.settings.get("host", "127.0.0.1"), int(self.settings.get("port", 25))
        try:
            with smtplib.SMTP(host, port, timeout=float(self.settings.get("timeout", 30))) as smtp:
                smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise ActionFailed(f"cannot mail {to} through SMTP {host}:{port}: {exc}; check notify.email "
                               f"host and port") from exc
        return f"mail to {to}"


class Webhook(Notifier):
    """``webhook: {url: https://chat.example.org/hook, timeout: 10}``: the message as a JSON POST."""

    def send(self, message: Message) -> str:
        """POST the message's JSON document."""
        url = str(self.settings["url"])
        document = {"recipient": message.recipient, "subject": message.subject, **message.payload}
        request = urllib.request.Request(url, data=json.dumps(document).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=float(self.settings.get("timeout", 10))) as response:
                response.read()
        except OSError as exc:
            raise ActionFailed(f"webhook {url} failed: {exc}; check notify.webhook.url") from exc
        return f"webhook {url}"


class Log(Notifier):
    """``log: {}``: one line in the process's log (a conductor's, or the command's)."""

    def send(self, message: Message) -> str:
        """Log the subject for the recipient."""
        LOG.warning("notice for %s <%s>: %s", message.recipient, message.email or "no e-mail", message.subject)
        return f"log ({message.recipient})"
