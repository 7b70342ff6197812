"""Per-entity time-bucketed series (requests and status classes per 1, 5, 60 minutes ...).

One ``GROUP BY key, bucket`` statement in ClickHouse returns a row per entity and bucket;
buckets with no traffic are filled with zeros on the (small) result, so a timeline has no
gaps. Entity values are bound as an array parameter, never written into the SQL text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import InputError
from workbench.features.entity import window_parameters
from workbench.features.registry import EntityKind, resolve_entity
from workbench.store.base import Store
from workbench.store.identifiers import check_identifier

_BUCKET = re.compile(r"\s*(\d+)\s*(s|m|min|h|d)?\s*", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
MAX_BUCKET_S = 7 * 86400
#: Most rows (entities x buckets) a zero-filled series may have.
MAX_FILLED_ROWS = 5_000_000

_REQUEST_COUNTS = (
    ("requests", "count()"),
    ("status_2xx", "countIf(EdgeResponseStatus BETWEEN 200 AND 299)"),
    ("status_3xx", "countIf(EdgeResponseStatus BETWEEN 300 AND 399)"),
    ("status_4xx", "countIf(EdgeResponseStatus BETWEEN 400 AND 499)"),
    ("status_5xx", "countIf(EdgeResponseStatus BETWEEN 500 AND 599)"),
    ("status_429", "countIf(EdgeResponseStatus = 429)"),
    ("distinct_paths", "uniqExact(ClientRequestPath)"),
    ("distinct_ips", "uniqExact(ClientIP)"),
)
_ACCOUNT_COUNTS = (
    # a folded syslog line ("message repeated N times") is one row with Repeats = N
    ("events", "sum(Repeats)"),
    ("failures", "sumIf(Repeats, Success = 0)"),
    ("successes", "sumIf(Repeats, Success != 0)"),
    ("distinct_source_ips", "uniqExactIf(SourceIP, SourceIP != '')"),
)


def parse_bucket(bucket: str | int) -> int:
    """Return a bucket width in seconds from ``"1m"``, ``"5m"``, ``"1h"``, ``"30s"`` or seconds.

    Parameters
    ----------
    bucket : str or int
        Width: a number with unit ``s``, ``m``/``min``, ``h`` or ``d``; a bare number is
        seconds.

    Returns
    -------
    int
        Seconds, between 1 and 7 days.

    Raises
    ------
    InputError
        When the text is not a width or is out of range.
    """
    if isinstance(bucket, bool):
        raise InputError(f"bucket {bucket!r} is not a width such as 1m, 5m or 1h")
    if isinstance(bucket, int | np.integer):
        seconds = int(bucket)
    else:
        match = _BUCKET.fullmatch(str(bucket))
        if not match:
            raise InputError(f"bucket {bucket!r} is not a width such as 1m, 5m or 1h")
        seconds = int(match.group(1)) * _UNIT_SECONDS[(match.group(2) or "s").lower()]
    if not 1 <= seconds <= MAX_BUCKET_S:
        raise InputError(f"bucket {bucket!r} must be between 1 second and 7 days")
    return seconds


def _key_types(store: Store, kind: EntityKind) -> list[str]:
    types = dict(store.columns(kind.table))
    out = []
    for key in kind.keys:
        ch_type = types[key]
        lc = re.fullmatch(r"LowCardinality\((.*)\)", ch_type)
        out.append(lc.group(1) if lc else ch_type)
    return out


def _normalize_values(kind: EntityKind, value: Any) -> list[tuple]:
    """Turn one entity value or a list of them into a list of key tuples."""
    width = len(kind.keys)
    if width == 1:
        if isinstance(value, str | int | np.integer):
            values = [value]
        else:
            values = list(value)
        return [(v,) for v in values]
    if isinstance(value, tuple) and len(value) == width and not isinstance(value[0], tuple):
        values = [value]
    else:
        values = list(value)
    for v in values:
        if not isinstance(v, tuple | list) or len(v) != width:
            raise InputError(
                f"entity {kind.name} is keyed by ({', '.join(kind.keys)}): give a tuple of "
                f"{width} values or a list of such tuples, got {v!r}"
            )
    return [tuple(v) for v in values]


def entity_series(
    store: Store,
    entity: str | EntityKind,
    value: Any,
    start: Any,
    end: Any,
    bucket: str | int = "5m",
    fill: bool = True,
) -> pd.DataFrame:
    """Count requests (or auth events) per time bucket for one or more entities.

    Parameters
    ----------
    store : Store
        Where the tables are.
    entity : str or EntityKind
        Entity kind or alias (``ip``, ``ClientIP``, ``ip_ua``, ``account`` ...).
    value : scalar, tuple, list or None
        The entity (an IP, an ASN number, a JA4 ...; a ``(ip, user_agent)`` tuple for
        ``ip_ua``), a list of them, or None for all traffic together.
    start, end : datetime, pandas.Timestamp or ISO-8601 str
        Window, UTC: ``start`` inclusive, ``end`` exclusive.
    bucket : str or int, default "5m"
        Bucket width (``1m``, ``5m``, ``60m``, ``1h`` ... or seconds); buckets are aligned
        to multiples of the width since the Unix epoch (whole minutes, hours, UTC days).
    fill : bool, default True
        Add zero rows for empty buckets between ``start`` and ``end`` (for every requested
        entity, even one with no traffic).

    Returns
    -------
    pandas.DataFrame
        Key column(s) (unless ``value`` is None), ``bucket`` (UTC), then counts: for
        requests ``requests``, ``status_2xx`` ... ``status_5xx``, ``status_429``,
        ``distinct_paths``, ``distinct_ips``; for accounts ``events``, ``failures``,
        ``successes``, ``distinct_source_ips``, where a folded syslog line
        (``message repeated N times``, ``Repeats = N``) counts N events. Sorted by key and
        bucket.

    Raises
    ------
    InputError
        Bad entity, value, window or bucket, or a filled result that would be too large.
    """
    kind = resolve_entity(entity)
    seconds = parse_bucket(bucket)
    params: dict[str, Any] = {**window_parameters(start, end), "bucket_seconds": seconds}
    counts = _ACCOUNT_COUNTS if kind.table == "auth_events" else _REQUEST_COUNTS
    time_col = check_identifier(kind.time_column)
    keys = [check_identifier(k) for k in kind.keys] if value is not None else []
    where = f"{time_col} >= {{start:DateTime64(3, 'UTC')}} AND {time_col} < {{end:DateTime64(3, 'UTC')}}"
    values: list[tuple] = []
    if value is not None:
        values = _normalize_values(kind, value)
        if not values:
            raise InputError("no entity value given")
        types = _key_types(store, kind)
        if len(keys) == 1:
            where += f" AND {keys[0]} IN {{values:Array({types[0]})}}"
            params["values"] = [v[0] for v in values]
        else:
            where += f" AND ({', '.join(keys)}) IN {{values:Array(Tuple({', '.join(types)}))}}"
            params["values"] = values
    bucket_expr = (
        f"toStartOfInterval({time_col}, toIntervalSecond({{bucket_seconds:UInt32}}), 'UTC')"
    )
    select = [*keys, f"toDateTime64({bucket_expr}, 3, 'UTC') AS bucket"]
    select += [f"{expr} AS {name}" for name, expr in counts]
    group = ", ".join([*keys, "bucket"])
    sql = (
        f"SELECT {', '.join(select)}\nFROM {check_identifier(kind.table)}\nWHERE {where}\n"
        f"GROUP BY {group}\nORDER BY {group}"
    )
    if fill:
        _check_fill_size(params["start"], params["end"], seconds, max(len(values), 1))
    frame = store.query_df(sql, params)
    frame["bucket"] = _utc_ms(frame["bucket"])
    if fill:
        frame = _fill(frame, keys, values, params["start"], params["end"], seconds, counts)
    return frame


def _check_fill_size(start: Any, end: Any, seconds: int, entities: int) -> None:
    span = (pd.Timestamp(end) - pd.Timestamp(start).floor(f"{seconds}s")).total_seconds()
    buckets = math.ceil(span / seconds)
    if buckets * entities > MAX_FILLED_ROWS:
        raise InputError(
            f"{buckets} buckets x {entities} entities is too many rows to fill "
            f"(limit {MAX_FILLED_ROWS}); use a wider bucket, a shorter window or fill=False"
        )


def _utc_ms(column: pd.Series) -> pd.Series:
    column = pd.to_datetime(column, utc=True)
    return column.astype("datetime64[ms, UTC]")


def _fill(
    frame: pd.DataFrame,
    keys: list[str],
    values: Sequence[tuple],
    start: Any,
    end: Any,
    seconds: int,
    counts: Sequence[tuple[str, str]],
) -> pd.DataFrame:
    first = pd.Timestamp(start).floor(f"{seconds}s")
    stamps = pd.date_range(first, pd.Timestamp(end), freq=f"{seconds}s", inclusive="left")
    stamps = pd.Series(stamps, name="bucket").astype("datetime64[ms, UTC]")
    if keys:
        grid_keys = pd.DataFrame(values, columns=keys).astype({k: frame[k].dtype for k in keys})
        grid = grid_keys.merge(stamps.to_frame(), how="cross")
    else:
        grid = stamps.to_frame()
    merged = grid.merge(frame, on=[*keys, "bucket"], how="outer")
    for name, _ in counts:
        merged[name] = merged[name].fillna(0).astype(frame[name].dtype)
    return merged.sort_values([*keys, "bucket"], kind="stable").reset_index(drop=True)
