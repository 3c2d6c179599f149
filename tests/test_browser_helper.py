"""The browser helper measures what it claims: overflow in pixels, images' natural size."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests.browser import horizontal_overflow, images, open_page

pytestmark = pytest.mark.browser

# a 3 x 2 PNG, made here so the test needs no image library
_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAMAAAACCAIAAAASFvFNAAAAEElEQVR4nGP4z8AAQQxwFgBB0gX7h/C5SAAAAABJRU5ErkJggg=="
)


def _page(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "page.html"
    path.write_text(
        '<!doctype html><html><head><meta name="viewport" content="width=device-width">'
        f"<style>body{{margin:0}}</style></head><body>{body}</body></html>",
        encoding="utf-8",
    )
    return path


def test_overflow_is_measured_at_the_viewport_width(chromium: str, tmp_path: Path) -> None:
    page_path = _page(tmp_path, '<div style="width:1000px;height:10px"></div>')
    with open_page(page_path, 390) as page:
        assert horizontal_overflow(page) == 1000 - 390
    with open_page(page_path, 1200) as page:
        assert horizontal_overflow(page) == 0


def test_images_report_their_natural_size_and_broken_ones_zero(
    chromium: str, tmp_path: Path
) -> None:
    (tmp_path / "ok.png").write_bytes(_PNG)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    page_path = _page(tmp_path, '<img src="ok.png"><img src="broken.png">')
    with open_page(page_path, 390) as page:
        assert images(page) == [("ok.png", 3, 2), ("broken.png", 0, 0)]
