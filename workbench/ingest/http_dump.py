"""Raw HTTP request dumps, as in the CSIC 2010 web attack data set.

A request is a request line (``METHOD target HTTP/x.y``; the target may be an absolute URI
``http://host:port/path?query``), header lines, a blank line and an optional body; requests
follow each other separated by blank lines. CRLF and LF line ends are both read (and may be
mixed). How the file is cut into records:

- every line that is a request line starts a new request, so a request ends where the next
  one begins (a body line that looks exactly like a request line therefore starts a new
  request: smuggled requests inside bodies are split off; ``Content-Length`` is kept in
  ``RequestHeaders`` so a mismatch stays visible);
- headers end at the first blank line; everything after it, up to the next request, is the
  body (inner blank lines kept, trailing blank lines are separators);
- non-blank lines before the first request line are not a request: each paragraph of them
  is one record, rejected.

Mapping: method, protocol, absolute URI → ``ClientRequestScheme``/``ClientRequestHost`` (or
the ``Host`` header), path, query (without ``?``), ``ClientRequestURI`` (path and query);
headers → ``RequestHeaders`` (names lower-cased, repeated headers joined with ``", "``,
folded continuation lines joined with a space); ``User-Agent`` and ``Referer`` → their
columns; the body → ``RequestBody``; ``ClientRequestBytes`` is the UTF-8 size of the request
text; ``EdgeStartTimestamp`` comes from a ``Date`` header when there is a valid one and is
otherwise left at its default (1970-01-01: dumps carry no time). The label of the whole
file (``normal`` / ``anomalous`` for CSIC) is set by the loader from ``--label``.
A header line that is neither ``Name: value`` nor a continuation rejects the request.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from email.utils import parsedate_to_datetime

import pyarrow as pa

from workbench.ingest.common import (
    MAX_MS,
    MIN_MS,
    TIMESTAMP,
    Record,
    Reject,
    cut_text,
    record_ids,
    reject,
    split_target,
    strip_eol,
)
from workbench.ingest.reader import Line
from workbench.ingest.records import MAX_RECORD_CHARS, RawRecord, Tally

TABLE = "http_requests"
REQUEST_LINE = re.compile(r"(?P<method>[A-Za-z]+) (?P<target>\S.*?) (?P<proto>HTTP/\d(?:\.\d)?)")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_SCHEMA = pa.schema(
    [
        ("RayID", pa.string()), ("EdgeStartTimestamp", TIMESTAMP),
        ("ClientRequestMethod", pa.string()), ("ClientRequestScheme", pa.string()),
        ("ClientRequestHost", pa.string()), ("ClientRequestPath", pa.string()),
        ("ClientRequestQuery", pa.string()), ("ClientRequestURI", pa.string()),
        ("ClientRequestProtocol", pa.string()), ("ClientRequestUserAgent", pa.string()),
        ("ClientRequestReferer", pa.string()), ("ClientRequestBytes", pa.uint64()),
        ("RequestHeaders", pa.map_(pa.string(), pa.string())), ("RequestBody", pa.string()),
    ]
)  # fmt: skip
#: Columns of the rows this parser returns.
COLUMNS = tuple(_SCHEMA.names)


def split_requests(lines: Iterable[Line], tally: Tally) -> Iterator[RawRecord]:
    """Cut a dump into records: one per request, one per paragraph of stray lines.

    Parameters
    ----------
    lines : iterable of Line
        Input lines with their terminators.
    tally : Tally
        Counts blank separator lines.

    Yields
    ------
    RawRecord
        Each request's text (request line, headers, blank line, body) without trailing
        blank lines, or a paragraph of lines that precede any request.
    """
    block: list[str] = []
    pending: list[str] = []  # blank lines inside a request, kept if more text follows
    start, size, cut, kind = 0, 0, False, ""

    def flush() -> Iterator[RawRecord]:
        if kind:
            yield RawRecord(start, strip_eol("".join(block)), cut)
        tally.blank += len(pending)

    for line in lines:
        text = strip_eol(line.text)
        if not line.cut and REQUEST_LINE.fullmatch(text):
            yield from flush()
            block, pending, start, size, cut, kind = [], [], line.number, 0, False, "request"
        elif not line.cut and not text.strip():
            if kind == "request":
                pending.append(line.text)
            else:
                yield from flush()
                block, pending, kind = [], [], ""
                tally.blank += 1
            continue
        elif not kind:
            block, pending, start, size, cut, kind = [], [], line.number, 0, False, "stray"
        for extra in (*pending, line.text):
            size += len(extra)
            if size > MAX_RECORD_CHARS:
                cut = True
            elif not cut:
                block.append(extra)
        pending = []
        cut = cut or line.cut
    yield from flush()


def parse_http_dump(
    records: Iterable[Record], *, file_id: str = ""
) -> tuple[pa.Table, list[Reject]]:
    """Parse raw HTTP requests (records from :func:`split_requests`).

    Parameters
    ----------
    records : iterable of (int, str)
        Line number of the request line and the request's text.
    file_id : str, optional
        Content hash of the file, for the deterministic ``RayID`` of each row.

    Returns
    -------
    rows : pyarrow.Table
        One row per request, with Logpush column names.
    rejects : list of Reject
        Text that does not start with a request line, or has a malformed header line.
    """
    rows: list[dict] = []
    numbers: list[int] = []
    rejects: list[Reject] = []
    for number, text in records:
        row, problem = _parse_request(number, text)
        if problem is not None:
            rejects.append(reject(number, problem, text))
            continue
        rows.append(row)
        numbers.append(number)
    for row, ray in zip(rows, record_ids(file_id, numbers), strict=True):
        row["RayID"] = ray
    return pa.Table.from_pylist(rows, schema=_SCHEMA), rejects


def _parse_request(number: int, text: str) -> tuple[dict, str | None]:
    lines = text.split("\n")
    first = REQUEST_LINE.fullmatch(lines[0].removesuffix("\r"))
    if first is None:
        return {}, "expected an HTTP request line 'METHOD target HTTP/x.y'"
    headers: dict[str, str] = {}
    last = ""
    index = 1
    while index < len(lines):
        line = lines[index].removesuffix("\r")
        index += 1
        if not line.strip():
            break
        if line[0] in " \t" and last:
            headers[last] = f"{headers[last]} {line.strip()}"
            continue
        name, colon, value = line.partition(":")
        name = name.rstrip(" \t")
        if not colon or not _TOKEN.fullmatch(name):
            return {}, f"malformed header line {number + index - 1}: {cut_text(line, 200)!r}"
        last = name.lower()
        value = value.strip(" \t")
        headers[last] = f"{headers[last]}, {value}" if last in headers else value
    body = "\n".join(lines[index:])
    scheme, host, path, query, uri = split_target(first["target"])
    return {
        "EdgeStartTimestamp": _date(headers.get("date", "")),
        "ClientRequestMethod": first["method"],
        "ClientRequestScheme": scheme,
        "ClientRequestHost": host or headers.get("host", ""),
        "ClientRequestPath": path,
        "ClientRequestQuery": query,
        "ClientRequestURI": uri,
        "ClientRequestProtocol": first["proto"],
        "ClientRequestUserAgent": headers.get("user-agent", ""),
        "ClientRequestReferer": headers.get("referer", ""),
        "ClientRequestBytes": len(text.encode("utf-8")),
        "RequestHeaders": list(headers.items()),
        "RequestBody": body,
    }, None


def _date(value: str) -> int:
    if not value:
        return 0
    try:
        stamp = parsedate_to_datetime(value)
    except Exception:  # any unparseable Date header means "time unknown"
        return 0
    if stamp.tzinfo is None:
        return 0
    ms = int(stamp.timestamp() * 1000)
    return ms if MIN_MS <= ms <= MAX_MS else 0
