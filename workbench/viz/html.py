r"""Safe HTML fragments: every value is escaped, only this module writes markup.

Attackers write user agents, paths and headers, so nothing that comes from data is ever put
into HTML unescaped. A :class:`SafeHTML` holds markup built here from escaped pieces; notebooks
display it (``_repr_html_``) and the report renderer copies it as it is.

Control characters and Unicode bidirectional overrides are shown as ``\xNN`` / ``\uNNNN``
escapes, so a hostile string cannot hide or reorder what the analyst reads.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

#: C0/C1 controls (tab excepted), DEL, and the Unicode characters that reorder or hide text.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff]"
)


class SafeHTML:
    """An HTML fragment made only of escaped values and this package's own markup.

    Parameters
    ----------
    markup : str
        Markup that is already safe. Build fragments with the functions of this module
        rather than calling this directly with text that holds data.
    """

    __slots__ = ("markup",)

    def __init__(self, markup: str) -> None:
        self.markup = str(markup)

    def _repr_html_(self) -> str:
        return self.markup

    def __html__(self) -> str:
        return self.markup

    def __str__(self) -> str:
        return self.markup

    def __repr__(self) -> str:
        return f"SafeHTML({self.markup[:60]!r}{'...' if len(self.markup) > 60 else ''})"

    def __add__(self, other: SafeHTML) -> SafeHTML:
        if not isinstance(other, SafeHTML):
            return NotImplemented
        return SafeHTML(self.markup + other.markup)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SafeHTML) and other.markup == self.markup

    def __hash__(self) -> int:
        return hash(self.markup)


def visible(value: str) -> str:
    r"""Replace control, invisible and bidi-override characters by printable escapes.

    Parameters
    ----------
    value : str
        Any text.

    Returns
    -------
    str
        The same text with ``\x1b`` / ``\u202e`` style escapes in place of characters that
        would hide or reorder what a reader sees.
    """

    def _escape(match: re.Match[str]) -> str:
        code = ord(match.group(0))
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _INVISIBLE.sub(_escape, value)


def escape(value: Any) -> str:
    """Return ``value`` as text escaped for HTML element content and attribute values.

    Parameters
    ----------
    value : Any
        Anything; ``SafeHTML`` passes through unchanged, everything else is formatted with
        :func:`format_value` and escaped (``&``, ``<``, ``>``, both quotes).

    Returns
    -------
    str
        Safe markup.
    """
    if isinstance(value, SafeHTML):
        return value.markup
    return html.escape(visible(format_value(value)), quote=True)


def format_value(value: Any) -> str:
    """Format one table cell or value as text.

    Integers get thousands separators, floats four significant digits, timestamps ISO 8601
    in UTC, missing values an empty string, sequences a comma-separated list.

    Parameters
    ----------
    value : Any
        The value.

    Returns
    -------
    str
        Its text (not escaped).
    """
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isnan(number):
            return ""
        if number != 0 and (abs(number) >= 1e6 or abs(number) < 1e-3):
            return f"{number:.3e}"
        return f"{number:,.4g}" if abs(number) < 1e4 else f"{number:,.0f}"
    if isinstance(value, pd.Timestamp | dt.datetime):
        stamp = pd.Timestamp(value)
        if pd.isna(stamp):
            return ""
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        text = stamp.isoformat(sep=" ", timespec="milliseconds")
        return text[:-4] if text.endswith(".000") else text
    if isinstance(value, np.datetime64):
        return format_value(pd.Timestamp(value))
    if isinstance(value, Mapping):
        return ", ".join(f"{format_value(k)}={format_value(v)}" for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset | np.ndarray):
        return ", ".join(format_value(v) for v in value)
    if value is pd.NA or value is pd.NaT:
        return ""
    return str(value)


def truncate(text: str, max_chars: int) -> str:
    """Shorten ``text`` to at most ``max_chars`` characters, ending with an ellipsis.

    Parameters
    ----------
    text : str
        The text.
    max_chars : int
        The longest result (at least 2).

    Returns
    -------
    str
        ``text`` itself when short enough.
    """
    if max_chars < 2:
        raise ValueError(f"max_chars must be at least 2, got {max_chars}")
    return text if len(text) <= max_chars else text[: max_chars - 1] + "\u2026"


def _cell(value: Any, max_chars: int, kind: str) -> str:
    if isinstance(value, SafeHTML):
        return f"<td>{value.markup}</td>"
    text = visible(format_value(value))
    short = truncate(text, max_chars)
    title = f' title="{html.escape(text, quote=True)}"' if short != text else ""
    return f"<td{_class(kind)}{title}>{html.escape(short, quote=True)}</td>"


def _class(kind: str) -> str:
    return f' class="{kind}"' if kind else ""


def _kind(column: pd.Series) -> str:
    """CSS class of a column's cells: ``num`` (right-aligned), ``time`` (unbroken) or none."""
    if pd.api.types.is_bool_dtype(column):
        return ""
    if pd.api.types.is_numeric_dtype(column):
        return "num"
    if pd.api.types.is_datetime64_any_dtype(column):
        return "time"
    return ""


def html_table(
    frame: pd.DataFrame,
    *,
    max_rows: int = 50,
    max_chars: int = 80,
    caption: str | None = None,
    index: bool = False,
) -> SafeHTML:
    """Render a data frame as an escaped HTML table.

    Every header and cell is escaped; long values are shortened with the full text in the
    cell's ``title`` (escaped too). Rows past ``max_rows`` are dropped with a note saying so.

    Parameters
    ----------
    frame : pandas.DataFrame
        The rows to show.
    max_rows : int, default 50
        At most this many rows.
    max_chars : int, default 80
        Longest text shown in one cell.
    caption : str, optional
        A caption above the table.
    index : bool, default False
        Show the frame's index as the first column.

    Returns
    -------
    SafeHTML
        The table.

    Raises
    ------
    ValueError
        When ``max_rows`` is negative or ``frame`` is not a data frame.
    """
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"html_table needs a pandas DataFrame, got {type(frame).__name__}")
    if max_rows < 0:
        raise ValueError(f"max_rows must not be negative, got {max_rows}")
    shown = frame.reset_index() if index else frame
    kinds = [_kind(shown[c]) for c in shown.columns]
    parts = ['<table class="wb-table">']
    if caption:
        parts.append(f"<caption>{escape(caption)}</caption>")
    head = "".join(
        f"<th{_class(kind)}>{escape(str(c))}</th>"
        for c, kind in zip(shown.columns, kinds, strict=True)
    )
    parts.append(f"<thead><tr>{head}</tr></thead><tbody>")
    for row in shown.head(max_rows).itertuples(index=False, name=None):
        cells = "".join(_cell(v, max_chars, kind) for v, kind in zip(row, kinds, strict=True))
        parts.append(f"<tr>{cells}</tr>")
    parts.append("</tbody></table>")
    if len(shown) > max_rows:
        parts.append(f'<p class="wb-note">{len(shown) - max_rows:,} more rows not shown.</p>')
    if len(shown) == 0:
        parts.append('<p class="wb-note">No rows.</p>')
    return SafeHTML("".join(parts))


def key_value_table(
    items: Mapping[str, Any] | Iterable[tuple[str, Any]], *, max_chars: int = 200
) -> SafeHTML:
    """Render labelled values as a two-column table (labels and values escaped).

    Parameters
    ----------
    items : mapping or iterable of (label, value)
        What to show, in order.
    max_chars : int, default 200
        Longest value shown.

    Returns
    -------
    SafeHTML
        The table.
    """
    pairs = items.items() if isinstance(items, Mapping) else items
    rows = "".join(
        f"<tr><th>{escape(label)}</th>{_cell(value, max_chars, '')}</tr>" for label, value in pairs
    )
    return SafeHTML(f'<table class="wb-table wb-kv"><tbody>{rows}</tbody></table>')


def heading(text: str, level: int = 3) -> SafeHTML:
    """Return an escaped heading.

    Parameters
    ----------
    text : str
        Heading text.
    level : int, default 3
        1 to 6.

    Returns
    -------
    SafeHTML
        ``<hN>text</hN>``.
    """
    if level not in range(1, 7):
        raise ValueError(f"heading level must be 1 to 6, got {level}")
    return SafeHTML(f"<h{level}>{escape(text)}</h{level}>")


def paragraph(text: str, css_class: str | None = None) -> SafeHTML:
    """Return an escaped paragraph.

    Parameters
    ----------
    text : str
        The text.
    css_class : str, optional
        A class name (letters, digits, ``-`` and ``_`` only).

    Returns
    -------
    SafeHTML
        ``<p>text</p>``.
    """
    if css_class is not None and not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", css_class):
        raise ValueError(f"invalid CSS class name {css_class!r}")
    cls = f' class="{css_class}"' if css_class else ""
    return SafeHTML(f"<p{cls}>{escape(text)}</p>")


def concat(*fragments: SafeHTML) -> SafeHTML:
    """Join fragments in order.

    Parameters
    ----------
    *fragments : SafeHTML
        Fragments (plain strings are refused: escape them first).

    Returns
    -------
    SafeHTML
        The fragments one after the other.
    """
    for fragment in fragments:
        if not isinstance(fragment, SafeHTML):
            raise TypeError(f"concat takes SafeHTML fragments, got {type(fragment).__name__}")
    return SafeHTML("".join(f.markup for f in fragments))
