"""The morning report's trend chart: completion per day by arm, as a PNG for the email.

Drawn with matplotlib's Agg canvas on a :class:`~matplotlib.figure.Figure` of its own
(no pyplot, no global backend switch): lines with markers per arm (ML, ML-kontrollgruppe,
regelbasert), the y-axis in Norwegian percentages, date labels through Babel, the legend
inside the image, and "Ingen data ennå" when no day has a value. The image is sized to
stay legible when a phone shows it 390 px wide, and small enough to inline (< 100 kB).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from datetime import date

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator

from daglig import norsk

WIDTH_PX, HEIGHT_PX, DPI = 560, 400, 100
FONT_SIZE = 14  # ~12 px tall text once a 390 px phone scales the image down (x 0.65)
# colour-blind-safe (Okabe–Ito) and each with its own marker, so arms differ without colour
STYLE = {
    "ml": ("#0072B2", "o", "-"),
    "holdout": ("#E69F00", "s", "--"),
    "fallback": ("#555555", "^", ":"),
}
NO_DATA = "Ingen data ennå"


def trend_chart(
    days: Sequence[date], series: Sequence[tuple[str, str, Sequence[float | None]]]
) -> bytes:
    """PNG of completion per day: ``series`` is (key in STYLE, label, a value 0..1 or
    None per day). A day without a value is a gap in its line; no value at all gives the
    "Ingen data ennå" image."""
    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    # the axis ends just above the highest value (at least 10 %, at most 100 %), so a
    # night of 10 % completion is not squeezed into the bottom tenth of the chart
    highest = max((v for _, _, vs in series for v in vs if v is not None), default=1.0)
    ax.set_ylim(0, min(1.0, max(0.1, math.ceil(min(highest, 1.0) * 1.15 * 20) / 20)))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: norsk.percent(v, 0)))
    ax.tick_params(labelsize=FONT_SIZE)
    ax.grid(axis="y", color="#dddddd", linewidth=0.8)
    ax.spines[["top", "right"]].set_visible(False)
    with_data = sum(
        any(i < len(values) and values[i] is not None for _, _, values in series)
        for i in range(len(days))
    )
    title = f"Fullføring per dag, siste {len(days)} dager"
    if 0 < with_data < len(days):
        title += f" ({with_data} med data)"
    ax.set_title(title, fontsize=FONT_SIZE, loc="left")
    xs = list(range(len(days)))
    drawn = 0
    for key, label, values in series:
        ys = [math.nan if v is None else min(max(float(v), 0.0), 1.0) for v in values]
        if all(math.isnan(y) for y in ys):
            continue
        colour, marker, line = STYLE[key]
        ax.plot(
            xs,
            ys,
            color=colour,
            marker=marker,
            linestyle=line,
            linewidth=2.2,
            markersize=7,
            label=label,
        )
        drawn += 1
    if days:
        ax.set_xlim(-0.5, len(days) - 0.5)
        step = max(1, math.ceil(len(days) / 5))  # at most ~5 labels: legible on a phone
        ticks = list(range(len(days) - 1, -1, -step))[::-1]
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_major_formatter(
            FuncFormatter(lambda v, _pos: norsk.day_short(days[int(round(v))]))
        )
    else:
        ax.set_xticks([])
    if drawn:  # below the dates, inside the image: it never hides a point
        fig.legend(
            loc="outside lower center",
            fontsize=FONT_SIZE,
            frameon=False,
            ncols=min(drawn, 3),
            handlelength=1.8,
            columnspacing=0.9,
        )
    else:
        ax.text(
            0.5,
            0.5,
            NO_DATA,
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=FONT_SIZE + 5,
            color="#555555",
        )
    buf = io.BytesIO()
    fig.savefig(
        buf,
        format="png",
        dpi=DPI,
        facecolor="white",
        metadata={"Software": None},
        pil_kwargs={"optimize": True},
    )
    return buf.getvalue()
