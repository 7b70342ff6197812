r"""Apache / nginx access logs in the combined or the common log format.

``%h %l %u [%t] "%r" %>s %b "%{Referer}i" "%{User-agent}i"`` (combined) and the same without
the last two fields (common), detected per line. Parsing is vectorised over a chunk of lines
with Arrow's RE2 kernels.

Mapping to Logpush columns: ``%h`` → ``ClientIP``, ``%t`` → ``EdgeStartTimestamp`` (UTC),
the request line → ``ClientRequestMethod``, ``ClientRequestURI`` (split into
``ClientRequestPath`` and ``ClientRequestQuery``, the latter without ``?``; an absolute URI
also fills ``ClientRequestScheme`` and ``ClientRequestHost``) and ``ClientRequestProtocol``;
``%>s`` → ``EdgeResponseStatus``, ``%b`` → ``EdgeResponseBytes`` (``-`` is 0), referer and
user agent (``-`` is empty). Logged ``\"`` and ``\\`` are unescaped; Apache's ``\xhh``
escapes of non-printable bytes are kept as written. A request line that is not
``METHOD target [PROTOCOL]`` (scanners send binary junk) is kept whole in
``ClientRequestURI`` with method, path and query left empty. Identd and user fields have no
column and are not kept. Lines that do not have the format, or whose time is not a valid
``dd/Mon/yyyy:HH:MM:SS +zzzz``, are rejected.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

from workbench.ingest.common import MAX_MS, MIN_MS, TIMESTAMP, Record, Reject, record_ids, reject

TABLE = "http_requests"
_QUOTED = r'(?:[^"\\]|\\.)*'
LINE_PATTERN = (
    r"^(?P<ip>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>[^\]]*)\] "
    rf'"(?P<request>{_QUOTED})" (?P<status>\d{{3}}) (?P<bytes>\d{{1,19}}|-)'
    rf'(?P<extra> "(?P<referer>{_QUOTED})" "(?P<agent>{_QUOTED})")?[ \t]*$'
)
REQUEST_PATTERN = r"^(?P<method>[A-Za-z]+) (?P<target>\S+)(?: (?P<proto>[A-Za-z]+/[0-9.]+))?$"
TARGET_PATTERN = (
    r"(?s)^(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?P<authority>[^/?#]*))?"
    r"(?P<path>[^?]*)(?P<q>\?(?P<query>.*))?$"
)
TIME_FORMAT = "%d/%b/%Y:%H:%M:%S %z"
LOCAL_FORMAT = "%d/%b/%Y:%H:%M:%S"
#: Columns of the rows this parser returns.
COLUMNS = (
    "RayID", "EdgeStartTimestamp", "ClientIP", "ClientRequestMethod", "ClientRequestScheme",
    "ClientRequestHost", "ClientRequestPath", "ClientRequestQuery", "ClientRequestURI",
    "ClientRequestProtocol", "EdgeResponseStatus", "EdgeResponseBytes", "ClientRequestReferer",
    "ClientRequestUserAgent",
)  # fmt: skip


def parse_access_log(
    records: Iterable[Record], *, file_id: str = ""
) -> tuple[pa.Table, list[Reject]]:
    """Parse access-log lines in the combined or common log format.

    Parameters
    ----------
    records : iterable of (int, str)
        Line number and text (without terminator) of each non-blank line.
    file_id : str, optional
        Content hash of the file, for the deterministic ``RayID`` of each row.

    Returns
    -------
    rows : pyarrow.Table
        One row per good line, with Logpush column names.
    rejects : list of Reject
        Lines not in the format, or with an invalid time.
    """
    records = list(records)
    numbers = [n for n, _ in records]
    lines = pa.array([t for _, t in records], type=pa.string())
    matched = pc.extract_regex(lines, pattern=LINE_PATTERN)
    is_line = pc.is_valid(matched)
    stamp = pc.struct_field(matched, "time")
    when = pc.strptime(stamp, format=TIME_FORMAT, unit="ms", error_is_null=True)
    millis = pc.cast(when, pa.int64())
    in_range = pc.and_(pc.greater_equal(millis, MIN_MS), pc.less_equal(millis, MAX_MS))
    good = pc.fill_null(pc.and_(in_range, _calendar_valid(stamp)), False)

    rejects = []
    for (number, text), ok, shaped in zip(
        records, good.to_pylist(), is_line.to_pylist(), strict=True
    ):
        if ok:
            continue
        if not shaped:
            reason = "not an access log line in the combined or common log format"
        else:
            reason = "invalid time: expected [dd/Mon/yyyy:HH:MM:SS +zzzz] between 1900 and 2299"
        rejects.append(reject(number, reason, text))

    fields = pc.filter(matched, good)
    kept = [n for n, ok in zip(numbers, good.to_pylist(), strict=True) if ok]
    return _rows(fields, pc.filter(when, good), kept, file_id), rejects


def _calendar_valid(stamp: pa.Array) -> pa.Array:
    # Arrow's strptime rolls impossible dates over (31/Feb -> 3/Mar): print the local date
    # and time back and require the same text.
    local = pc.utf8_slice_codeunits(stamp, 0, 20)
    parsed = pc.strptime(local, format=LOCAL_FORMAT, unit="s", error_is_null=True)
    return pc.equal(pc.strftime(parsed, format=LOCAL_FORMAT), local)


def _field(fields: pa.Array, name: str) -> pa.Array:
    return pc.struct_field(fields, name)


def _unescape(values: pa.Array) -> pa.Array:
    return pc.replace_substring_regex(values, pattern=r'\\(["\\])', replacement=r"\1")


def _dash_empty(values: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(values, "-"), "", values)


def _rows(fields: pa.Array, when: pa.Array, numbers: list[int], file_id: str) -> pa.Table:
    request = _unescape(_field(fields, "request"))
    parts = pc.extract_regex(request, pattern=REQUEST_PATTERN)
    well_formed = pc.fill_null(pc.is_valid(parts), False)
    method = pc.if_else(well_formed, pc.struct_field(parts, "method"), "")
    target = pc.if_else(well_formed, pc.struct_field(parts, "target"), request)
    proto = pc.if_else(well_formed, pc.struct_field(parts, "proto"), "")
    scheme, host, path, query, uri = split_targets(target)
    empty = pa.array([""] * len(request), type=pa.string())
    size = pc.cast(
        pc.if_else(pc.equal(_field(fields, "bytes"), "-"), "0", _field(fields, "bytes")),
        pa.uint64(),
    )
    return pa.table(
        {
            "RayID": pa.array(record_ids(file_id, numbers), type=pa.string()),
            "EdgeStartTimestamp": pc.cast(when, TIMESTAMP),
            "ClientIP": _field(fields, "ip"),
            "ClientRequestMethod": method,
            "ClientRequestScheme": pc.if_else(well_formed, scheme, empty),
            "ClientRequestHost": pc.if_else(well_formed, host, empty),
            "ClientRequestPath": pc.if_else(well_formed, path, empty),
            "ClientRequestQuery": pc.if_else(well_formed, query, empty),
            "ClientRequestURI": pc.if_else(well_formed, uri, request),
            "ClientRequestProtocol": proto,
            "EdgeResponseStatus": pc.cast(_field(fields, "status"), pa.uint16()),
            "EdgeResponseBytes": size,
            "ClientRequestReferer": _dash_empty(_unescape(_field(fields, "referer"))),
            "ClientRequestUserAgent": _dash_empty(_unescape(_field(fields, "agent"))),
        }
    )


def split_targets(targets: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array, pa.Array, pa.Array]:
    """Vectorised :func:`workbench.ingest.common.split_target` over an array of targets.

    Parameters
    ----------
    targets : pyarrow.Array
        Request targets (strings).

    Returns
    -------
    tuple of pyarrow.Array
        ``(scheme, host, path, query, uri)``, with the same meaning as ``split_target``.
    """
    parts = pc.extract_regex(targets, pattern=TARGET_PATTERN)
    scheme = pc.utf8_lower(pc.struct_field(parts, "scheme"))
    absolute = pc.not_equal(scheme, "")
    host = pc.replace_substring_regex(
        pc.struct_field(parts, "authority"), pattern=r"(?s)^.*@", replacement=""
    )
    raw_path = pc.struct_field(parts, "path")
    path = pc.if_else(pc.and_(absolute, pc.equal(raw_path, "")), "/", raw_path)
    path = pc.if_else(
        pc.and_(absolute, pc.invert(pc.starts_with(path, "/"))),
        pc.binary_join_element_wise("/", path, ""),
        path,
    )
    query = pc.struct_field(parts, "query")
    uri = pc.if_else(
        absolute, pc.binary_join_element_wise(path, pc.struct_field(parts, "q"), ""), targets
    )
    return scheme, host, path, query, uri
