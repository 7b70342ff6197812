"""CSV and Parquet files into any table, with a column mapping.

Which file column fills which table column: every ``--map src=dst`` pair, plus every file
column whose name is already a column of the table (unless it is the source or target of
a pair). File columns used for nothing are counted per name and reported. Values are
converted to the table's own column types (read from the live table): see
:mod:`workbench.ingest.chtypes`; a row with a value that does not convert is rejected,
with the column named in the reason. ``Source`` is set by ingest and cannot be mapped.
The row id column of the workbench tables (``RayID``, ``EventID``, ``PayloadID``,
``LabelID``, ``AlertID``) gets a deterministic id (file hash + line) when it is not mapped
or its value is empty.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from workbench.errors import InputError
from workbench.ingest.chtypes import ColumnType, coerce_column, parse_type
from workbench.ingest.common import Record, Reject, count_unknown, cut_text, record_ids, reject
from workbench.ingest.records import split_csv_text
from workbench.store.identifiers import check_identifier

#: Row-id column of each workbench table; filled with a deterministic id when left empty.
ID_COLUMNS = {
    "http_requests": "RayID",
    "auth_events": "EventID",
    "payloads": "PayloadID",
    "labels": "LabelID",
    "alerts": "AlertID",
}
RESERVED = frozenset({"Source"})


@dataclass(frozen=True)
class ColumnPlan:
    """Which file column fills which table column.

    Attributes
    ----------
    assign : tuple of (str, int, ColumnType)
        Table column, index of the file column, its type.
    unused : tuple of str
        File columns that fill nothing.
    id_column : str or None
        Row-id column to fill with deterministic ids where empty.
    """

    assign: tuple[tuple[str, int, ColumnType], ...]
    unused: tuple[str, ...]
    id_column: str | None


def plan_columns(
    source_columns: Sequence[str],
    table: str,
    table_columns: Mapping[str, str],
    mapping: Mapping[str, str] | None = None,
) -> ColumnPlan:
    """Decide how file columns fill table columns.

    Parameters
    ----------
    source_columns : sequence of str
        Column names in the file (CSV header or Parquet schema).
    table : str
        Target table name.
    table_columns : mapping
        Its column names to ClickHouse types.
    mapping : mapping, optional
        ``{file column: table column}`` (from ``--map src=dst``).

    Returns
    -------
    ColumnPlan
        The assignment.

    Raises
    ------
    InputError
        When a mapped file column does not exist, a target column is not in the table or is
        filled twice, the file has no usable column, or a target's type cannot be filled.
    """
    mapping = dict(mapping or {})
    names = list(source_columns)
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise InputError(f"the file has duplicate column names: {', '.join(twice)}")
    targets: dict[str, str] = {}
    for src, dst in mapping.items():
        if src not in names:
            raise InputError(
                f"--map {src}={dst}: the file has no column {src!r} "
                f"(it has: {', '.join(names[:30])})"
            )
        check_identifier(dst)
        if dst not in table_columns:
            raise InputError(f"--map {src}={dst}: table {table} has no column {dst!r}")
        if dst in targets:
            raise InputError(f"table column {dst} is mapped twice ({targets[dst]} and {src})")
        targets[dst] = src
    for name in names:
        if name in table_columns and name not in mapping and name not in targets:
            targets[name] = name
    for dst in targets:
        if dst in RESERVED:
            raise InputError(f"column {dst} is set by ingest (the file identity); rename it")
    if not targets:
        raise InputError(
            f"no column of the file matches a column of {table}; use --map file_column=column"
        )
    assign = []
    for dst, src in targets.items():
        try:
            ct = parse_type(table_columns[dst])
        except InputError as exc:
            raise InputError(f"column {dst}: {exc}") from None
        assign.append((dst, names.index(src), ct))
    used = set(targets.values())
    id_column = ID_COLUMNS.get(table)
    return ColumnPlan(
        tuple(assign),
        tuple(n for n in names if n not in used),
        id_column if id_column in table_columns else None,
    )


def parse_csv(
    records: Iterable[Record],
    *,
    plan: ColumnPlan,
    width: int,
    file_id: str = "",
    unknown: Counter | None = None,
) -> tuple[pa.Table, list[Reject]]:
    """Parse CSV data records (not the header) for the columns of a :class:`ColumnPlan`.

    Parameters
    ----------
    records : iterable of (int, str)
        Line number and text of each CSV record (from
        :func:`workbench.ingest.records.csv_records`).
    plan : ColumnPlan
        From :func:`plan_columns` with the file's header.
    width : int
        Number of columns in the header; records with another count are rejected.
    file_id : str, optional
        Content hash of the file, for deterministic row ids.
    unknown : collections.Counter, optional
        Counts unused file columns, once per record.

    Returns
    -------
    rows : pyarrow.Table
        Converted rows.
    rejects : list of Reject
        Malformed records and rows whose values do not convert.
    """
    rejects: list[Reject] = []
    kept: list[tuple[int, str, list[str]]] = []
    for number, text in records:
        fields = split_csv_text(text)
        if isinstance(fields, str):
            rejects.append(reject(number, fields, text))
        elif len(fields) != width:
            rejects.append(reject(number, f"expected {width} fields, got {len(fields)}", text))
        else:
            kept.append((number, text, fields))
    columns = {
        index: pa.array([fields[index] for _, _, fields in kept], type=pa.string())
        for _, index, _ in plan.assign
    }
    raws = [text for _, text, _ in kept]
    table, bad = _convert(columns, plan, [n for n, _, _ in kept], raws, file_id)
    rejects.extend(bad)
    _count_unused(unknown, plan, len(kept))
    return table, sorted(rejects)


def parse_parquet_batch(
    batch: pa.RecordBatch,
    *,
    first_row: int,
    plan: ColumnPlan,
    file_id: str = "",
    unknown: Counter | None = None,
) -> tuple[pa.Table, list[Reject]]:
    """Convert one Parquet record batch for the columns of a :class:`ColumnPlan`.

    Parameters
    ----------
    batch : pyarrow.RecordBatch
        Rows as read from the file.
    first_row : int
        1-based number of the batch's first row in the file (rows play the part of lines).
    plan : ColumnPlan
        From :func:`plan_columns` with the file's schema names.
    file_id : str, optional
        Content hash of the file, for deterministic row ids.
    unknown : collections.Counter, optional
        Counts unused file columns, once per row.

    Returns
    -------
    rows : pyarrow.Table
        Converted rows.
    rejects : list of Reject
        Rows whose values do not convert (raw text: the row as JSON).
    """
    numbers = list(range(first_row, first_row + batch.num_rows))
    columns = {index: batch.column(index) for _, index, _ in plan.assign}
    table, rejects = _convert(columns, plan, numbers, _RowText(batch), file_id)
    _count_unused(unknown, plan, batch.num_rows)
    return table, rejects


class _RowText:
    """Lazy JSON text of a batch's rows, computed only for rejected rows."""

    def __init__(self, batch: pa.RecordBatch) -> None:
        self.batch = batch

    def __getitem__(self, index: int) -> str:
        row = self.batch.slice(index, 1).to_pylist()[0]
        return json.dumps(row, default=str, ensure_ascii=False)


def _convert(
    columns: dict[int, pa.Array],
    plan: ColumnPlan,
    numbers: list[int],
    raws: Sequence[str] | _RowText,
    file_id: str,
) -> tuple[pa.Table, list[Reject]]:
    arrays: dict[str, pa.Array] = {}
    problems: dict[int, str] = {}
    for dst, index, ct in plan.assign:
        array, errors = coerce_column(columns[index], ct)
        arrays[dst] = array
        for position, reason in errors.items():
            problems.setdefault(position, f"column {dst}: {cut_text(reason, 300)}")
    if plan.id_column is not None:
        ids = pa.array(record_ids(file_id, numbers), type=pa.string())
        given = arrays.get(plan.id_column)
        arrays[plan.id_column] = (
            ids if given is None else pc.if_else(pc.equal(pc.fill_null(given, ""), ""), ids, given)
        )
    table = pa.table(arrays) if arrays else pa.table({})
    rejects = [reject(numbers[i], reason, raws[i]) for i, reason in sorted(problems.items())]
    if problems:
        keep = pa.array([i not in problems for i in range(len(numbers))])
        table = table.filter(keep)
    return table, rejects


def _count_unused(unknown: Counter | None, plan: ColumnPlan, rows: int) -> None:
    if unknown is None or rows == 0:
        return
    for name in plan.unused:
        count_unknown(unknown, name, rows)
