"""The morning report's trend chart (daglig/chart.py): a real PNG from matplotlib, small
enough to inline, sized for a phone, and an explicit "no data yet" image."""

from __future__ import annotations

import io
from datetime import date, timedelta

import numpy as np
import pytest
from PIL import Image

from daglig.chart import HEIGHT_PX, NO_DATA, WIDTH_PX, trend_chart
from daglig.morning import chart_of

DAYS = [date(2026, 11, 10) + timedelta(days=i) for i in range(14)]


def _arms(n: int = 14) -> list[tuple[str, str, list[float | None]]]:
    rng = np.random.default_rng(7)
    return [
        ("ml", "ML", [None, *(float(x) for x in rng.uniform(0.5, 0.8, n - 1))]),
        ("holdout", "ML-kontrollgruppe", [None, *(float(x) for x in rng.uniform(0.3, 0.6, n - 1))]),
        ("fallback", "Regelbasert", [float(x) for x in rng.uniform(0.2, 0.5, n)]),
    ]


def _decode(png: bytes) -> np.ndarray:
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG"
    return np.asarray(img.convert("RGB"))


def test_the_chart_is_a_png_under_100_kb_sized_for_a_phone() -> None:
    png = trend_chart(DAYS, _arms())
    pixels = _decode(png)
    assert len(png) < 100_000
    assert pixels.shape == (HEIGHT_PX, WIDTH_PX, 3)
    # each arm's colour is drawn (lines and legend): the three arms are all in the image
    for colour in ((0x00, 0x72, 0xB2), (0xE6, 0x9F, 0x00), (0x55, 0x55, 0x55)):
        assert (pixels == colour).all(axis=2).sum() > 200, colour


def test_no_data_is_its_own_image_not_an_empty_grid() -> None:
    empty = _decode(trend_chart(DAYS, [("ml", "ML", [None] * 14)]))
    full = _decode(trend_chart(DAYS, _arms()))
    assert not (empty == (0x00, 0x72, 0xB2)).all(axis=2).any()  # no line, no legend
    assert empty.shape == full.shape
    assert NO_DATA == "Ingen data ennå"


def test_the_no_data_image_carries_text_where_the_lines_would_be() -> None:
    empty = _decode(trend_chart(DAYS, [("ml", "ML", [None] * 14)]))
    h, w, _ = empty.shape
    middle = empty[int(h * 0.4) : int(h * 0.6), int(w * 0.3) : int(w * 0.7)]
    dark = (middle.sum(axis=2) < 3 * 160).sum()
    assert dark > 300  # the words "Ingen data ennå", drawn in grey in the plot's middle


@pytest.mark.parametrize("n", [1, 5, 14])
def test_the_chart_shows_the_real_number_of_days(n: int) -> None:
    from matplotlib.figure import Figure

    seen: list[str] = []
    original = Figure.savefig

    def spy(self: Figure, *a: object, **k: object) -> None:
        ax = self.axes[0]
        seen.append(ax.get_title(loc="left"))
        seen.extend(t.get_text() for t in ax.get_xticklabels())
        original(self, *a, **k)

    mp = pytest.MonkeyPatch()
    mp.setattr(Figure, "savefig", spy)
    try:
        trend_chart(DAYS[-n:], [(k, label, v[-n:]) for k, label, v in _arms()])
    finally:
        mp.undo()
    assert seen[0].startswith(f"Fullføring per dag, siste {n} dager")
    assert seen[-1] == "23. nov."  # the last label is yesterday, in Norwegian
    assert 1 <= len(seen) - 1 <= 5


def test_chart_of_a_report_without_a_trend_is_none_and_without_data_the_no_data_image() -> None:
    assert chart_of({}) is None
    trend = [{"day": d.isoformat(), "ml": None, "holdout": None, "fallback": None} for d in DAYS]
    png = chart_of({"trend": trend})
    assert png is not None and _decode(png).shape == (HEIGHT_PX, WIDTH_PX, 3)


def test_the_y_axis_fits_low_completion_instead_of_squeezing_it() -> None:
    from matplotlib.figure import Figure

    tops: list[float] = []
    original = Figure.savefig

    def spy(self: Figure, *a: object, **k: object) -> None:
        tops.append(self.axes[0].get_ylim()[1])
        original(self, *a, **k)

    mp = pytest.MonkeyPatch()
    mp.setattr(Figure, "savefig", spy)
    try:
        trend_chart(DAYS, [("ml", "ML", [0.08, 0.177, *[0.1] * 12])])
        trend_chart(DAYS, [("ml", "ML", [0.95, *[0.5] * 13])])
        trend_chart(DAYS, [("ml", "ML", [0.0] * 14)])
    finally:
        mp.undo()
    assert tops[0] == pytest.approx(0.25)  # 17.7 % is the highest: the axis ends at 25 %
    assert tops[1] == 1.0 and tops[2] == pytest.approx(0.1)
