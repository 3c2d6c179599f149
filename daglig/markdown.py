"""Markdown for Prefect artifacts, with app data escaped so it shows as text, never markup.

The Prefect UI renders a markdown artifact, and every string cell of a table artifact, as
markdown. Anything that comes from the app's data, the admins' settings or an error
message (a category ``…<img src=x onerror=alert(1)>``, a user's name, an exception's text)
goes through :func:`text` (running text, table cells) or :func:`code` (a code span):

* ``&``, ``<`` and ``>`` become HTML entities, so no tag, comment or autolink is made;
* markdown's inline punctuation (backslash, backtick, ``*``, ``[``, ``]``, ``|``, ``~``,
  ``#``, and ``_`` except inside a word such as ``traffic_signs``, where it makes no
  emphasis) is backslash-escaped, so no emphasis, link, image, table cell or heading is
  made; a leading list marker is escaped too;
* line breaks become spaces, so a value stays inside its line, list item or table row.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from typing import Any

_INLINE = re.compile(r"([\\`*\[\]|~#])")
# an underscore inside a word (traffic_signs) makes no emphasis in CommonMark: left as is
_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")
_LEADING = re.compile(r"^(\s*)([-+]|\d+(?=[.)]))(?=[.)]?(\s|$))")


def text(value: object) -> str:
    """``value`` as markdown text that renders as exactly its characters."""
    s = " ".join(str(value).splitlines())
    s = html.escape(s, quote=False)
    s = _INLINE.sub(r"\\\1", s)
    s = _UNDERSCORE.sub(r"\\_", s)
    # "- x", "+ x" and "1. x" would start a list item: escape the marker (for a number,
    # its dot or parenthesis)
    m = _LEADING.match(s)
    if m is None:
        return s
    if m.group(2)[0].isdigit():
        end = m.end()
        return s[:end] + "\\" + s[end:]
    return s[: m.start(2)] + "\\" + s[m.start(2) :]


def code(value: object) -> str:
    """``value`` as an inline code span (rendered verbatim, no HTML), whatever backticks
    it holds: the fence is one backtick longer than its longest run."""
    s = " ".join(str(value).splitlines())
    longest = max((len(run) for run in re.findall(r"`+", s)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if s.startswith("`") or s.endswith("`") or longest else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def cells(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows for a table artifact with every string cell escaped (column names are ours)."""
    return [{k: text(v) if isinstance(v, str) else v for k, v in row.items()} for row in rows]
