"""Notifiers deliver one message the same way whichever flow sends it: reclaim's notice, a key rotation's."""

from __future__ import annotations

import logging

import pytest

from opsflow import registry
from opsflow.errors import ActionFailed
from opsflow.notifiers import GROUP, Email, Log, Message
from opsflow.reclaim.notice import Notice
from opsflow.services import smtp

MESSAGE = Message("alice", "alice@example.org", "Your access key AK is being replaced", "Switch to BK.\n",
                  {"X-Opsflow-Run": "run-1"})


def test_email_sends_subject_body_and_headers_to_the_recipient() -> None:
    with smtp.serving() as mail:
        assert Email({"port": mail.port, "sender": "keys@example.org"}).send(MESSAGE) == "mail to alice@example.org"
        (sent,) = mail.messages("alice@example.org")
    assert (sent["From"], sent["Subject"], sent["X-Opsflow-Run"]) == ("keys@example.org", MESSAGE.subject, "run-1")
    assert sent.get_content().strip() == "Switch to BK."


def test_email_without_an_address_goes_to_the_fallback_or_nobody() -> None:
    nameless = Message("bob", "", "s", "b")
    with smtp.serving() as mail:
        assert Email({"port": mail.port, "fallback": "ops@example.org"}).send(nameless) == "mail to ops@example.org"
        assert Email({"port": mail.port}).send(nameless) == "nobody (no e-mail)"
        assert len(mail.messages()) == 1


def test_an_unreachable_smtp_server_is_one_line_naming_it() -> None:
    with pytest.raises(ActionFailed, match=r"cannot mail alice@example.org through SMTP 127.0.0.1:9: .*check"):
        Email({"port": 9, "timeout": 2}).send(MESSAGE)


def test_log_writes_one_line_for_the_recipient(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="opsflow.notifiers"):
        assert Log({}).send(MESSAGE) == "log (alice)"
    assert caplog.messages == ["notice for alice <alice@example.org>: Your access key AK is being replaced"]


def test_every_built_in_notifier_is_an_entry_point() -> None:
    assert {name: registry.fetch(GROUP, name) for name in ("email", "webhook", "log")}["log"] is Log


def test_a_reclaim_notice_is_a_message_with_its_server_and_stage_headers() -> None:
    notice = Notice("srv-1", "web", "shop", "alice", "alice@example.org", "final", ("idle 30 days",),
                    "2026-12-08T00:00:00Z", "hibernate")
    message = notice.message()
    assert (message.recipient, message.email, message.subject) == ("alice", "alice@example.org", notice.subject)
    assert message.headers == {"X-Opsflow-Server": "srv-1", "X-Opsflow-Stage": "final"}
    assert message.payload["reasons"] == ["idle 30 days"]
