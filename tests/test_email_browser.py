"""The admins' emails in a real browser (headless Chromium, tests/browser.py), as an admin
reads them on a phone (390 px) and on a desktop (1200 px): the morning report of a run
with 14 days of history (the simulator plays 15 nights of the real flow), and a failure
report with a long error.

Asserted: no horizontal scrolling; the inline (cid) chart loads with its natural size and
is shown at least 300 px wide on the phone; every table header is its own column, apart
from its neighbours and not cut off ("FullførtPåbegynt" was one run-together word)."""

from __future__ import annotations

import base64
import datetime as dt
import email
import re
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from daglig.chart import HEIGHT_PX, WIDTH_PX
from tests.browser import DESKTOP, PHONE, horizontal_overflow, images, open_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

START = dt.date(2026, 11, 10)
NIGHTS = 15  # the 15th night's report looks back on 14 days with challenges


def as_page(msg: EmailMessage, folder: Path) -> tuple[Path, str]:
    """The HTML part as a file, its cid: images written beside it (what a mail client
    does); returns the page and the plain-text part."""
    folder.mkdir(parents=True, exist_ok=True)
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    for part in msg.walk():
        cid = part.get("Content-ID")
        if cid and part.get_content_maintype() == "image":
            name = re.sub(r"[^A-Za-z0-9.-]", "_", cid.strip("<>")) + ".png"
            (folder / name).write_bytes(part.get_payload(decode=True))
            html = html.replace(f"cid:{cid.strip('<>')}", name)
    page = folder / "email.html"
    page.write_text(html, encoding="utf-8")
    return page, msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def morning_email(
    tmp_path_factory: pytest.TempPathFactory, prefect_harness: None
) -> Iterator[EmailMessage]:
    from tests.browser import require_chromium

    require_chromium()  # skip before 15 nights are played
    from simulator.days import play_days

    tmp = tmp_path_factory.mktemp("history")
    url = f"sqlite:///{tmp / 'app.db'}"
    mp = pytest.MonkeyPatch()
    mp.setenv("DATABASE_URL", url)
    mp.setenv("DAGLIG_DATA_DIR", str(tmp / "data"))
    mp.setenv("DAGLIG_ML_HOLDOUT_SHARE", "0.3")
    mp.delenv("DAGLIG_SMTP_HOST", raising=False)
    try:
        play_days(url, users=240, seed=11, start=START, days=NIGHTS)
    finally:
        mp.undo()
    last = max((tmp / "data" / "outbox").glob("daily-challenges-2026-11-24-ok-*.eml"))
    yield email.message_from_bytes(last.read_bytes(), policy=policy.default)  # type: ignore[misc]


def headers_apart(page: Any) -> list[str]:
    """Problems with the tables' header cells: overlapping or touching neighbours, text
    cut off or wrapped mid-word. Empty when every header reads as its own column."""
    return list(
        page.evaluate(
            """() => {
        const out = [];
        for (const row of document.querySelectorAll('tr')) {
          const cells = Array.from(row.querySelectorAll('th'));
          cells.forEach((th, i) => {
            const r = th.getBoundingClientRect();
            if (th.scrollWidth > th.clientWidth) out.push('cut off: ' + th.textContent);
            const range = document.createRange(); range.selectNodeContents(th);
            const t = range.getBoundingClientRect();
            if (i > 0) {
              const prev = cells[i - 1];
              const pr = document.createRange(); pr.selectNodeContents(prev);
              const p = pr.getBoundingClientRect();
              if (t.left - p.right < 8)
                out.push('run together: ' + prev.textContent + '|' + th.textContent);
            }
            if (r.width < 1 || r.height < 1) out.push('invisible: ' + th.textContent);
          });
        }
        return out;
      }"""
        )
    )


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_the_morning_report_reads_well_in_a_browser(
    morning_email: EmailMessage, tmp_path: Path, width: int
) -> None:
    page_path, plain = as_page(morning_email, tmp_path)
    # 14 days of history: 14 dated rows in the plain text, each with the three arms
    trend = re.findall(r"^  \d{1,2}\. \w+\.: .+ / .+ / .+$", plain, flags=re.M)
    assert len(trend) == 14, plain
    with open_page(page_path, width) as page:
        assert horizontal_overflow(page) == 0
        (chart,) = [i for i in images(page) if "trend-chart" in i[0]]
        assert chart[1:] == (WIDTH_PX, HEIGHT_PX)  # loaded, at its natural size
        shown = page.evaluate("() => document.querySelector('img').getBoundingClientRect().width")
        assert shown >= min(300, width - 40) and shown <= WIDTH_PX
        assert page.locator("th").count() == 3
        assert headers_apart(page) == []
        assert page.get_by_text("Slik gikk det i går (23.11.2026)").is_visible()


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_a_failure_report_with_a_long_error_reads_well_in_a_browser(
    chromium: str, tmp_path: Path, width: int
) -> None:
    from daglig.rendering import make_environment
    from daglig.summary import RunSummary, compose_email

    long_name = "relation_" + "x" * 200  # one long unbreakable word, as errors carry
    s = RunSummary(
        run_date=dt.date(2026, 11, 24),
        status="failed",
        database="postgresql://app@db/daglig",
        failed_task="upsert-challenges",
        error=f"IntegrityError: {long_name} is read-only during maintenance\n[SQL: INSERT …]",
        failed_at="2026-11-24T00:14:05+01:00",
        failed_step_seconds=12.5,
        users_active=1795,
        users_served=1795,
        assignments=5385,
        distinct_challenges=412,
    )
    page_path, plain = as_page(compose_email(s, "a@b", ["c@d"], make_environment()), tmp_path)
    assert "[SQL" not in plain and "INSERT" not in plain  # the statement is in the log only
    with open_page(page_path, width) as page:
        assert horizontal_overflow(page) == 0
        assert page.get_by_text("daglig run --date 2026-11-24").is_visible()


def test_the_chart_png_is_inline_and_under_100_kb(morning_email: EmailMessage) -> None:
    (part,) = [p for p in morning_email.walk() if p.get_content_type() == "image/png"]
    data = part.get_payload(decode=True)
    assert part["Content-ID"] == "<trend-chart@daglig.local>"
    assert 5_000 < len(data) < 100_000
    assert base64.b64encode(data)  # a real payload, not a stub


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_the_backfill_email_reads_well_in_a_browser(
    chromium: str, tmp_path: Path, width: int
) -> None:
    from daglig.backfill import DayOutcome
    from daglig.backfill_email import compose_backfill_email
    from daglig.rendering import make_environment

    days = [dt.date(2026, 11, 1) + dt.timedelta(days=i) for i in range(10)]
    long_error = "IntegrityError: " + "daily_challenges_" * 20 + " is read-only\n[SQL: INSERT …]"
    outcomes = [
        DayOutcome(
            d,
            "failed" if d.day in (4, 5) else "ok",
            active_users=1795,
            users_complete=0 if d.day in (4, 5) else 1795,
            assignments_added=0 if d.day in (4, 5) else 5385,
            seconds=41.25,
            error=long_error if d.day in (4, 5) else "",
        )
        for d in days
    ]
    msg = compose_backfill_email(days[0], days[-1], outcomes, "a@b", ["c@d"], make_environment())
    page_path, plain = as_page(msg, tmp_path)
    rows = re.findall(r"^  \d\d\.11\.2026: ", plain, flags=re.M)
    assert len(rows) == 10 and "[SQL" not in plain  # a row per date, one-line errors
    assert "daglig backfill --start 2026-11-04 --end 2026-11-05" in plain
    with open_page(page_path, width) as page:
        assert horizontal_overflow(page) == 0
        assert page.locator("tr").count() == 1 + 10
        assert headers_apart(page) == []
