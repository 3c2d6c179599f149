"""Headless Chromium for tests that look at a page as a person would (issue 15 item 7).

The browser is Debian's ``chromium`` (``/usr/bin/chromium``; ``.ci/run`` installs it when it
is missing), driven by the ``playwright`` Python package. ``playwright install`` is never
run: nothing is downloaded. Without the browser the tests skip with the reason, except under
``CI=true``, where they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = os.environ.get("DAGLIG_TEST_CHROMIUM", "/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() == "true"
PHONE = 390
DESKTOP = 1200


def chromium_missing_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        return (
            f"headless Chromium not found at {CHROMIUM}"
            " (apt-get install -y --no-install-recommends chromium)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"the playwright package is not installed: {exc}"
    return None


def require_chromium() -> str:
    """The browser's path; skips the test when it is absent (fails under CI=true)."""
    reason = chromium_missing_reason()
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true requires the browser tests: {reason}")
        pytest.skip(reason)
    return CHROMIUM


def _as_url(url_or_path: str | Path) -> str:
    text = str(url_or_path)
    if "://" in text or text.startswith(("data:", "about:")):
        return text
    return Path(text).resolve().as_uri()


@contextmanager
def open_page(url_or_path: str | Path, width: int, height: int = 900) -> Iterator[Page]:
    """A loaded page at a viewport ``width`` px wide (a file path, or any URL)."""
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=executable,
            headless=True,
            # root in a container has no user namespace for Chromium's sandbox
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            context = browser.new_context(
                viewport={"width": width, "height": height}, device_scale_factor=1
            )
            # offline: any request leaving the machine fails the page instead of hanging
            context.route(
                "**/*",
                lambda route: (
                    route.continue_()
                    if route.request.url.startswith(("file:", "data:", "http://127.0.0.1"))
                    or route.request.url.startswith("http://localhost")
                    else route.abort()
                ),
            )
            page = context.new_page()
            page.goto(_as_url(url_or_path), wait_until="load", timeout=30_000)
            yield page
        finally:
            browser.close()


def horizontal_overflow(page: Page) -> int:
    """Pixels the page is wider than its viewport (0 means no horizontal scrolling)."""
    return int(
        page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
    )


def images(page: Page) -> list[tuple[str, int, int]]:
    """Every <img> as (src, naturalWidth, naturalHeight); a broken image has 0 x 0."""
    rows = page.evaluate(
        "() => Array.from(document.images, i => [i.getAttribute('src') || '',"
        " i.naturalWidth, i.naturalHeight])"
    )
    return [(str(src), int(w), int(h)) for src, w, h in rows]


@pytest.fixture
def chromium() -> str:
    """The headless browser's path, or skip (fail under CI=true)."""
    return require_chromium()
