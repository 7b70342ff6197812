"""Grouping lines into records: one line per record, or one CSV record per (quoted) row.

What counts as a record decides the "read" count, so it is spelled out here. Blank lines
(empty or only whitespace) are separators, not records, in every format; they are counted
in :attr:`Tally.blank` and reported, never silently skipped. Each record keeps the number
of its first line, its text and whether a line in it was too long to hold (``cut``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from workbench.ingest.common import strip_eol
from workbench.ingest.reader import Line

#: A record longer than this (in characters) is cut and quarantined.
MAX_RECORD_CHARS = 16 * 2**20


class RawRecord(NamedTuple):
    """A record as split from the input, before parsing.

    Attributes
    ----------
    number : int
        Line number of its first line.
    text : str
        Its text without the final line terminator (inner terminators kept as read).
    cut : bool
        True when it held a line longer than the reader's limit, or grew past
        :data:`MAX_RECORD_CHARS`: it is quarantined, not parsed.
    """

    number: int
    text: str
    cut: bool


@dataclass
class Tally:
    """Counts kept while splitting a file, read by the loader after each chunk.

    Attributes
    ----------
    blank : int
        Blank separator lines seen (not records).
    nbytes : int
        Bytes of input consumed so far.
    """

    blank: int = 0
    nbytes: int = 0


def counted(lines: Iterable[Line], tally: Tally) -> Iterator[Line]:
    """Pass lines through, adding their sizes to ``tally.nbytes``.

    Parameters
    ----------
    lines : iterable of Line
        Lines from :func:`workbench.ingest.reader.read_lines`.
    tally : Tally
        Where the byte count goes.

    Yields
    ------
    Line
        The same lines.
    """
    for line in lines:
        tally.nbytes += line.nbytes
        yield line


def line_records(lines: Iterable[Line], tally: Tally) -> Iterator[RawRecord]:
    """One record per non-blank line.

    Parameters
    ----------
    lines : iterable of Line
        Input lines.
    tally : Tally
        Counts blank lines.

    Yields
    ------
    RawRecord
        Each non-blank line without its terminator.
    """
    for line in lines:
        text = strip_eol(line.text)
        if not line.cut and not text.strip():
            tally.blank += 1
            continue
        yield RawRecord(line.number, text, line.cut)


def csv_records(lines: Iterable[Line], tally: Tally) -> Iterator[RawRecord]:
    """One record per CSV row, which may span lines inside quoted fields.

    Row boundaries are found by Python's ``csv`` reader (RFC 4180 quoting, ``""`` escapes);
    a row it cannot read (a field over ``csv.field_size_limit()``, a stray line break) is
    still a record, made of the lines the reader consumed, and its parser rejects it.

    Parameters
    ----------
    lines : iterable of Line
        Input lines (with terminators).
    tally : Tally
        Counts blank lines.

    Yields
    ------
    RawRecord
        Each row's text as it appears in the file, the header row included.
    """
    consumed: list[Line] = []

    def feed() -> Iterator[str]:
        for line in lines:
            consumed.append(line)
            yield line.text

    reader = csv.reader(feed())
    while True:
        try:
            next(reader)
        except StopIteration:
            if not consumed:
                return
        except csv.Error:
            pass
        taken = consumed[:]
        consumed.clear()
        if not taken:  # pragma: no cover - the reader always consumes a line per row
            continue
        text = strip_eol("".join(line.text for line in taken))
        cut = any(line.cut for line in taken) or len(text) > MAX_RECORD_CHARS
        if not cut and not text.strip():
            tally.blank += len(taken)
            continue
        yield RawRecord(taken[0].number, text, cut)


def split_csv_text(text: str) -> list[str] | str:
    """Parse one record's text (from :func:`csv_records`) into its fields.

    Parameters
    ----------
    text : str
        The record's text.

    Returns
    -------
    list of str or str
        The fields, or a reason string when the text is not exactly one CSV row.
    """
    pieces = text.split("\n")
    lines = [p + "\n" for p in pieces[:-1]] + [pieces[-1]]
    try:
        rows = list(csv.reader(lines))
    except csv.Error as exc:
        return f"invalid CSV: {exc}"
    if len(rows) != 1:
        return f"invalid CSV: expected one row, found {len(rows)}"
    return rows[0]
