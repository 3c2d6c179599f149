"""A small bar chart as PNG bytes, for the morning email (no plotting library needed).

The chart shows one group of bars per day (oldest left), one bar per series, on a white
background with light gridlines at 25 %, 50 % and 75 %. Labels are left to the email's
text (legend and the numbers in a table beside it), which also keeps it readable for
screen readers. Pixels are drawn with numpy; the PNG is written with zlib.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

import numpy as np

WHITE = (255, 255, 255)
GRID = (225, 225, 225)
AXIS = (120, 120, 120)
PALETTE: tuple[tuple[int, int, int], ...] = ((0, 94, 184), (150, 150, 150), (230, 140, 0))


def png_bytes(pixels: np.ndarray) -> bytes:
    """Encode an (height, width, 3) uint8 array as a PNG image."""
    h, w, _ = pixels.shape
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def bar_chart(
    series: Sequence[Sequence[float | None]], width: int = 560, height: int = 200
) -> bytes:
    """PNG of grouped bars: ``series[k][i]`` is series k's value (0..1) on day i; None
    leaves a gap. At most three series (blue, grey, orange)."""
    if not series or len(series) > len(PALETTE):
        raise ValueError(f"1 to {len(PALETTE)} series, got {len(series)}")
    days = max(len(s) for s in series)
    img = np.full((height, width, 3), WHITE, dtype=np.uint8)
    top, bottom, left, right = 8, height - 12, 8, width - 8
    plot_h = bottom - top
    for frac in (0.25, 0.5, 0.75):
        img[bottom - int(plot_h * frac), left:right] = GRID
    img[bottom, left:right] = AXIS
    if days:
        slot = (right - left) / days
        bar = max(1, int(slot * 0.8 / len(series)))
        for i in range(days):
            x0 = int(left + i * slot + slot * 0.1)
            for k, s in enumerate(series):
                v = s[i] if i < len(s) else None
                if v is None:
                    continue
                v = min(max(float(v), 0.0), 1.0)
                y0 = bottom - int(round(plot_h * v))
                xs = x0 + k * bar
                img[y0:bottom, xs : xs + max(1, bar - 1)] = PALETTE[k]
    return png_bytes(img)
