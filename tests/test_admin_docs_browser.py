"""The admin API's docs page as a person opens it: headless Chromium, every request that
would leave the machine refused (tests/browser.py), and the page must list the API's
operations: Swagger UI rendered from the assets the API serves itself (no CDN)."""

from __future__ import annotations

from typing import Any

import tests.test_admin_api as api_tests
from tests.browser import DESKTOP, PHONE, horizontal_overflow, open_page
from tests.test_admin_api import PREFIX, build_app

serve = api_tests.serve  # the fixture: the admin API live on a loopback port

SEVEN = {
    ("GET", "/overview"),
    ("POST", "/generate"),
    ("GET", "/performance"),
    ("GET", "/settings"),
    ("PUT", "/settings"),
    ("POST", "/settings"),
    ("POST", "/test-user/{user_id}"),
    ("GET", "/recent"),
    ("GET", "/stats"),
    # the learner service for the app, outside the admin prefix
    ("GET", "/api/ml/users/{user_id}/weak-areas"),
    ("GET", "/api/ml/users/{user_id}/skill-assessment"),
}


def _operations(page: Any) -> set[tuple[str, str]]:
    page.wait_for_selector(".opblock-summary-method", timeout=30_000)
    rows = page.evaluate(
        "() => Array.from(document.querySelectorAll('.opblock-summary'), s => ["
        " s.querySelector('.opblock-summary-method').textContent,"
        " s.querySelector('.opblock-summary-path').getAttribute('data-path')])"
    )
    return {(str(m).strip(), str(p).removeprefix(PREFIX)) for m, p in rows}


def test_the_docs_page_lists_the_operations_offline(
    chromium: str, sqlite_url: str, serve: Any
) -> None:
    build_app(sqlite_url)
    root = str(serve(sqlite_url).base_url).split(PREFIX)[0]
    with open_page(f"{root}/docs", DESKTOP) as page:
        assert _operations(page) == SEVEN
        assert page.title() == "daglig admin API - Swagger UI"
        # the padlock: the bearer token can be given on the page
        assert page.locator("button.authorize").count() == 1
    with open_page(f"{root}/docs", PHONE) as page:
        assert _operations(page) == SEVEN
        assert horizontal_overflow(page) == 0
    with open_page(f"{root}/redoc", DESKTOP) as page:
        page.wait_for_selector("h1", timeout=30_000)
        assert "daglig admin API" in page.locator("h1").first.inner_text()
        text = page.inner_text("body")
        for summary in ("System overview", "Manual generation", "Test user generation"):
            assert summary in text
