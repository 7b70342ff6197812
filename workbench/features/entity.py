"""Entity features computed in ClickHouse: one generated ``GROUP BY`` statement per entity/window.

The statement reads the entity's table once in ``[start, end)`` (UTC), groups by the entity
key and returns one row per entity with every selected feature of the registry. Shared
sub-expressions go in its ``WITH`` clause; cross-entity signals (a fingerprint's majority
browser family, ranks among fingerprints) are a scalar subquery and window functions inside
the same statement, so it runs unchanged on an embedded store, a server or a cluster.
The window bounds are bound as server-side parameters; every name in the text comes from
the registry and passes the identifier check.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from workbench.errors import InputError
from workbench.features.registry import HELPERS, EntityKind, features_for, resolve_entity
from workbench.store.base import Store
from workbench.store.identifiers import check_identifier

#: Rows per batch when streaming features out.
STREAM_BATCH_ROWS = 65_536


def entity_features_sql(entity: str | EntityKind, features: Sequence[str] | None = None) -> str:
    """Return the single SQL statement that computes features for every entity of a kind.

    The statement has two parameters, ``{start:DateTime64(3, 'UTC')}`` (inclusive) and
    ``{end:DateTime64(3, 'UTC')}`` (exclusive); its result has the entity key column(s)
    first, then one column per feature in registry order, one row per entity, ordered by key
    (for kinds aggregated in table order, ``ip`` and ``account``, the order comes from the
    aggregation itself under :data:`IN_ORDER_SETTINGS`; there is no ``ORDER BY``).

    Parameters
    ----------
    entity : str or EntityKind
        Entity kind (``ip``, ``asn``, ``ja4``, ``ja3``, ``user_agent``, ``ip_ua``,
        ``account``) or an alias (``ClientIP`` ...).
    features : sequence of str, optional
        Feature names; all features of the entity when omitted.

    Returns
    -------
    str
        The SQL text.

    Raises
    ------
    InputError
        When the entity or a feature name is unknown, or a feature does not apply.
    """
    kind = resolve_entity(entity)
    chosen = features_for(kind, None if features is None else list(features))
    helpers = [name for name in HELPERS if any(name in f.helpers for f in chosen)]
    keys = ", ".join(check_identifier(k) for k in kind.keys)
    time_col = check_identifier(kind.time_column)
    lines = []
    if helpers:
        lines.append("WITH")
        lines.append(
            ",\n".join(f"    {HELPERS[name]} AS {check_identifier(name)}" for name in helpers)
        )
    lines.append("SELECT")
    columns = [f"    {check_identifier(k)}" for k in kind.keys]
    columns += [f"    {f.expression} AS {check_identifier(f.name)}" for f in chosen]
    lines.append(",\n".join(columns))
    lines.append(f"FROM {check_identifier(kind.table)}")
    where = f"{time_col} >= {{start:DateTime64(3, 'UTC')}} AND {time_col} < {{end:DateTime64(3, 'UTC')}}"
    if kind.skip_empty:
        where += "".join(f" AND {check_identifier(k)} != ''" for k in kind.keys)
    lines.append(f"WHERE {where}")
    lines.append(f"GROUP BY {keys}")
    if not kind.in_order:
        # in-order kinds leave the aggregation already in key order; sorting the whole
        # result again would hold all of it in ClickHouse at once
        lines.append(f"ORDER BY {keys}")
    return "\n".join(lines)


def window_parameters(start: Any, end: Any) -> dict[str, dt.datetime]:
    """Check a time window and return it as query parameters.

    Parameters
    ----------
    start, end : datetime, pandas.Timestamp, numpy.datetime64 or ISO-8601 str
        Window bounds; naive values are UTC. ``start`` is inclusive, ``end`` exclusive.

    Returns
    -------
    dict
        ``{"start": datetime, "end": datetime}``, both timezone-aware UTC.

    Raises
    ------
    InputError
        When a bound cannot be read as a time or ``start`` is not before ``end``.
    """
    bounds = {"start": to_utc(start, "start"), "end": to_utc(end, "end")}
    if bounds["start"] >= bounds["end"]:
        raise InputError(f"start ({bounds['start']}) must be before end ({bounds['end']})")
    return bounds


def to_utc(value: Any, name: str = "time") -> dt.datetime:
    """Read one time value as a timezone-aware UTC ``datetime`` (naive values are UTC).

    Parameters
    ----------
    value : datetime, pandas.Timestamp, numpy.datetime64 or str
        The time.
    name : str, default "time"
        What it is, for the error message.

    Returns
    -------
    datetime.datetime
        Aware, UTC.

    Raises
    ------
    InputError
        When the value is missing or not a time.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InputError(f"{name} is required (a UTC time such as 2024-05-01T00:00:00)")
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        raise InputError(f"{name}={value!r} is not a time (use ISO-8601, UTC)") from None
    if stamp is pd.NaT:
        raise InputError(f"{name}={value!r} is not a time (use ISO-8601, UTC)")
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()


#: Settings for entities keyed by a prefix of the table's sorting key (``ip``, ``account``):
#: ClickHouse aggregates the sorted stream one entity after another, on one thread, and
#: hands finished groups on every 2048 entities, so the aggregation state holds a few
#: thousand entities at a time whatever the number of rows. Override with ``settings``
#: (for example ``{"max_threads": 16}`` on a large server).
IN_ORDER_SETTINGS: dict[str, int] = {
    "optimize_aggregation_in_order": 1,
    "max_threads": 1,
    "max_block_size": 2048,
}


def query_settings(kind: EntityKind, settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return the ClickHouse settings used for an entity kind's feature query.

    Parameters
    ----------
    kind : EntityKind
        The entity kind.
    settings : mapping, optional
        Settings that override the defaults.

    Returns
    -------
    dict
        :data:`IN_ORDER_SETTINGS` for in-order kinds, nothing otherwise, then ``settings``.
    """
    merged: dict[str, Any] = dict(IN_ORDER_SETTINGS) if kind.in_order else {}
    merged.update(settings or {})
    return merged


def build_entity_features(
    store: Store,
    entity: str | EntityKind,
    start: Any,
    end: Any,
    features: Sequence[str] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Compute features for every entity of a kind active in a window, in ClickHouse.

    Parameters
    ----------
    store : Store
        Where the tables are (embedded or server).
    entity : str or EntityKind
        Entity kind or alias (``ip`` or ``ClientIP`` ...).
    start, end : datetime, pandas.Timestamp or ISO-8601 str
        Window, UTC: ``start`` inclusive, ``end`` exclusive.
    features : sequence of str, optional
        Feature names; all features of the entity when omitted.
    settings : mapping, optional
        ClickHouse settings overriding :func:`query_settings`'s defaults.

    Returns
    -------
    pandas.DataFrame
        One row per entity, sorted by key: key column(s), then the features in registry
        order.

    Raises
    ------
    InputError
        Unknown entity or feature, or a bad window.
    QueryError
        When ClickHouse rejects the statement.

    Examples
    --------
    >>> build_entity_features(store, "ip", "2024-05-01", "2024-05-02")  # doctest: +SKIP
    """
    kind = resolve_entity(entity)
    sql = entity_features_sql(kind, features)
    table = store.query_arrow(sql, window_parameters(start, end), query_settings(kind, settings))
    # convert column by column, releasing Arrow memory as it goes (same dtypes as query_df)
    frame = table.to_pandas(split_blocks=True, self_destruct=True)
    del table
    keys = list(kind.keys)
    if len(keys) > 1 or not frame[keys[0]].is_monotonic_increasing:
        # a server may return in-order aggregation unordered (several threads or shards)
        frame = frame.sort_values(keys, kind="stable", ignore_index=True)
    return frame


@contextmanager
def stream_entity_features(
    store: Store,
    entity: str | EntityKind,
    start: Any,
    end: Any,
    features: Sequence[str] | None = None,
    batch_rows: int = STREAM_BATCH_ROWS,
    settings: Mapping[str, Any] | None = None,
) -> Iterator[Iterator[pa.RecordBatch]]:
    """Compute entity features like :func:`build_entity_features`, as a stream of batches.

    Use for very many entities: the Python side holds one batch at a time.

    Parameters
    ----------
    store : Store
        Where the tables are.
    entity : str or EntityKind
        Entity kind or alias.
    start, end : datetime, pandas.Timestamp or ISO-8601 str
        Window, UTC: ``start`` inclusive, ``end`` exclusive.
    features : sequence of str, optional
        Feature names; all features of the entity when omitted.
    batch_rows : int, default 65536
        Rows per batch asked of the engine.
    settings : mapping, optional
        ClickHouse settings overriding :func:`query_settings`'s defaults.

    Yields
    ------
    iterator of pyarrow.RecordBatch
        The rows, key column(s) first; leaving the ``with`` block early cancels the query.
    """
    kind = resolve_entity(entity)
    sql = entity_features_sql(kind, features)
    params = window_parameters(start, end)
    with store.query_arrow_stream(
        sql, params, settings=query_settings(kind, settings), batch_rows=batch_rows
    ) as batches:
        yield iter(batches)


def write_entity_features(
    store: Store,
    entity: str | EntityKind,
    start: Any,
    end: Any,
    out: str | Path,
    features: Sequence[str] | None = None,
    progress: bool = False,
    settings: Mapping[str, Any] | None = None,
) -> int:
    """Stream entity features into a Parquet or CSV file with bounded memory.

    Parameters
    ----------
    store : Store
        Where the tables are.
    entity : str or EntityKind
        Entity kind or alias.
    start, end : datetime, pandas.Timestamp or ISO-8601 str
        Window, UTC: ``start`` inclusive, ``end`` exclusive.
    out : str or Path
        Output file ending in ``.parquet`` or ``.csv``; parent folders are created. The file
        is written under a temporary name and renamed when complete.
    features : sequence of str, optional
        Feature names; all features of the entity when omitted.
    progress : bool, default False
        Show a progress bar (rows written) on stderr.
    settings : mapping, optional
        ClickHouse settings overriding :func:`query_settings`'s defaults.

    Returns
    -------
    int
        Rows (entities) written.

    Raises
    ------
    InputError
        When the file type is not supported, or the entity, features or window are bad.
    """
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq
    from tqdm import tqdm

    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise InputError(f"output file must end in .parquet or .csv, got {out.name!r}")
    kind = resolve_entity(entity)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    rows = 0
    writer: Any = None
    bar = tqdm(desc=f"{kind.name} features", unit=" entities", disable=not progress)
    try:
        with stream_entity_features(
            store, kind, start, end, features, settings=settings
        ) as batches:
            for batch in batches:
                if writer is None:
                    writer = (
                        pq.ParquetWriter(partial, batch.schema)
                        if suffix == ".parquet"
                        else pcsv.CSVWriter(partial, batch.schema)
                    )
                writer.write_batch(batch)
                rows += batch.num_rows
                bar.update(batch.num_rows)
        if writer is None:  # no entity in the window: an empty file with the right columns
            schema = _empty_schema(store, kind, start, end, features)
            writer = (
                pq.ParquetWriter(partial, schema)
                if suffix == ".parquet"
                else pcsv.CSVWriter(partial, schema)
            )
        writer.close()
        writer = None
        partial.replace(out)
    finally:
        bar.close()
        if writer is not None:
            writer.close()
        partial.unlink(missing_ok=True)
    return rows


def _empty_schema(
    store: Store, kind: EntityKind, start: Any, end: Any, features: Sequence[str] | None
) -> pa.Schema:
    table = store.query_arrow(
        entity_features_sql(kind, features), window_parameters(start, end), query_settings(kind)
    )
    return table.schema
