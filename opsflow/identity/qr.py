"""QR codes of ``otpauth://`` URIs with segno: PNG and SVG files, and text for a terminal.

The files hold the secret, so they are written owner-only (0600) into a directory that is
owner-only too, and removed by the enrollment's revert.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import segno

__all__ = ["QrFiles", "remove", "write"]


class QrFiles:
    """Where :func:`write` put the three renderings."""

    def __init__(self, directory: Path) -> None:
        self.png = directory / "totp-qr.png"
        self.svg = directory / "totp-qr.svg"
        self.text = directory / "totp-qr.txt"

    def all(self) -> list[Path]:
        """Every file."""
        return [self.png, self.svg, self.text]


def _private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def write(uri: str, directory: str) -> QrFiles:
    """Render ``uri`` into ``directory`` (created owner-only)."""
    where = Path(directory)
    where.mkdir(mode=0o700, parents=True, exist_ok=True)
    files = QrFiles(where)
    code = segno.make(uri, error="m")
    for path, kind in ((files.png, "png"), (files.svg, "svg")):
        buf = io.BytesIO()
        code.save(buf, kind=kind, scale=6)
        _private(path, buf.getvalue())
    text = io.StringIO()
    code.terminal(out=text, compact=True)
    _private(files.text, text.getvalue().encode())
    return files


def remove(directory: str) -> None:
    """Remove what :func:`write` wrote (missing files are fine)."""
    for path in QrFiles(Path(directory)).all():
        path.unlink(missing_ok=True)
