"""A real SMTP server on loopback (aiosmtpd) that captures mail, for reclaim's notices in tests and demos.

Reclaim's ``email`` notifier speaks plain SMTP through :mod:`smtplib`; the test is only honest if
what answers is an SMTP server, so this is aiosmtpd's, not a stub. Each message is kept in memory
and, with a directory, written as ``<n>.eml`` there too (readable with any mail tool).

In a process: ``with serving() as mail: ... mail.port ... mail.messages()``. As a daemon for a
demo: ``python -m opsflow.services.smtp --port 2525 --dir /tmp/mail`` (runs until SIGTERM).
"""

from __future__ import annotations

import argparse
import contextlib
import email
import email.message
import email.policy
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["Capture", "serving"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Capture:
    """aiosmtpd's handler: keeps every message (and writes it to ``directory`` when given)."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory
        self.port = 0
        self._messages: list[email.message.EmailMessage] = []
        self._lock = threading.Lock()
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        """Store one message."""
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        with self._lock:
            self._messages.append(message)
            count = len(self._messages)
        if self.directory is not None:
            (self.directory / f"{count:06d}.eml").write_bytes(raw)
        return "250 Message accepted for delivery"

    def messages(self, to: str | None = None) -> list[email.message.EmailMessage]:
        """The messages received so far (to one recipient), oldest first."""
        with self._lock:
            return [m for m in self._messages if to is None or to in str(m.get("To", ""))]


@contextlib.contextmanager
def serving(directory: Path | None = None, port: int = 0) -> Iterator[Capture]:
    """Run an SMTP server on ``127.0.0.1:port`` (a free one when 0) for the block."""
    from aiosmtpd.controller import Controller

    capture = Capture(directory)
    capture.port = port or _free_port()
    controller = Controller(capture, hostname="127.0.0.1", port=capture.port)
    controller.start()
    try:
        yield capture
    finally:
        controller.stop()


def main() -> None:
    """``python -m opsflow.services.smtp [--port N] [--dir DIR]``: serve until SIGTERM or Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--dir", type=Path, default=None, help="also write each message as DIR/<n>.eml")
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with serving(args.dir, args.port) as capture:
        print(f"SMTP on 127.0.0.1:{capture.port}" + (f", mail in {args.dir}" if args.dir else ""), flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
