"""The enrollment page in real headless Chromium (Debian's chromium, driven by playwright).

The screenshot of the confirmed enrollment is kept as a test artifact in
``$OPSFLOW_TEST_ARTIFACTS`` (default ``build/test-artifacts`` in the checkout).
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyotp
import pytest
import requests
import segno

from opsflow.devcloud.layout import Layout
from tests.functional.auth.conftest import User

pytestmark = pytest.mark.functional

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("OPSFLOW_TEST_ARTIFACTS") or Path(__file__).resolve().parents[3] / "build/test-artifacts")


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (tools/install-services)")
def test_user_enrolls_from_the_page(devcloud: Layout, make_user: Callable[..., User],
                                    login: Callable[..., requests.Response], tmp_path: Path) -> None:
    """Sign in, read the secret the QR code encodes, answer with a code, see it confirmed."""
    from playwright.sync_api import sync_playwright

    user = make_user()
    page_url = devcloud.auth_url.removesuffix("/v3") + "/opsflow/totp/enroll"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page: Any = browser.new_page()
            page.goto(page_url)
            page.fill("#username", user.name)
            page.fill("#password", user.password)
            page.click("#sign-in")
            uri = page.get_attribute("#qr", "data-otpauth")
            svg = page.inner_html("#qr")
            # the QR code on the page is the one of this URI (segno renders it identically)
            expected = io.BytesIO()
            segno.make(uri, error="m").save(expected, kind="svg", scale=5, xmldecl=False, svgns=True)
            assert svg.strip() == expected.getvalue().decode().strip()
            secret = pyotp.parse_uri(uri).secret
            assert page.inner_text("#secret") == secret
            page.fill("#passcode", pyotp.TOTP(secret).now())
            page.click("#confirm")
            assert "Enrollment confirmed" in page.inner_text("#message")
            codes = page.inner_text("#recovery").split()
            shot = tmp_path / "enroll-page.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, ARTIFACTS / "enroll-page.png")
    assert len(codes) == 8
    assert login(user, user.password).status_code == 401
    assert login(user, user.password, codes[0]).status_code == 201
