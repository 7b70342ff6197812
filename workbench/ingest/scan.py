"""Reading one file of any format as a stream of parsed chunks, without a store.

:func:`scan_file` wires a format's record splitter to its parser and yields, per chunk,
the good rows, the rejects and the number of records read; the loader inserts them, and
tests and notebooks can call it directly. Chunks hold at most :data:`CHUNK_RECORDS`
records or about :data:`CHUNK_CHARS` characters, so memory stays bounded whatever the
file size.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from workbench.errors import InputError
from workbench.ingest import access_log, auth_log, http_dump, logpush, payload_csv, tabular
from workbench.ingest.chtypes import schema_columns
from workbench.ingest.common import Reject, reject
from workbench.ingest.reader import MAX_LINE_BYTES, fingerprint, open_input, read_lines
from workbench.ingest.records import (
    MAX_RECORD_CHARS,
    RawRecord,
    Tally,
    counted,
    csv_records,
    line_records,
    split_csv_text,
)

#: Records parsed and inserted together.
CHUNK_RECORDS = 50_000
#: Characters of record text held per chunk, at most (plus one record).
CHUNK_CHARS = 32 * 2**20
#: Format name to its default target table (``None``: a table must be named).
FORMATS: dict[str, str | None] = {
    "logpush": "http_requests",
    "access-log": "http_requests",
    "http-dump": "http_requests",
    "payload-csv": "payloads",
    "auth-log": "auth_events",
    "csv": None,
    "parquet": None,
}
TOO_LONG = (
    f"record too long (a line over {MAX_LINE_BYTES // 2**20} MiB or a record over "
    f"{MAX_RECORD_CHARS // 2**20} Mi characters); first 64 KiB kept"
)

#: One parsed chunk: good rows, rejects, and the number of records it held.
Batch = tuple[pa.Table, list[Reject], int]


@dataclass
class FileScan:
    """A file being read in one format, chunk by chunk.

    Attributes
    ----------
    path : Path
        The file.
    fmt : str
        Format name (a key of :data:`FORMATS`).
    table : str
        Target table (decides the id column and the types of ``csv``/``parquet``).
    columns : dict
        Target column names to ClickHouse types.
    file_id : str
        SHA-256 of the decompressed content (seeds deterministic row ids).
    compressed : bool
        Whether the file is gzip.
    size : int
        Decompressed size in bytes.
    year, split, mapping
        Format options (see :func:`workbench.ingest.ingest`).
    tally : Tally
        Blank lines and bytes consumed so far.
    unknown : collections.Counter
        Unloaded field names and how many records had them.
    """

    path: Path
    fmt: str
    table: str
    columns: dict[str, str]
    file_id: str
    compressed: bool
    size: int
    year: int | None = None
    split: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    tally: Tally = field(default_factory=Tally)
    unknown: Counter = field(default_factory=Counter)

    def batches(self) -> Iterator[Batch]:
        """Read the file and yield parsed chunks.

        Yields
        ------
        rows : pyarrow.Table
            Good rows of the chunk.
        rejects : list of Reject
            Its rejected records.
        count : int
            Records in the chunk (always ``rows.num_rows + len(rejects)``).

        Raises
        ------
        InputError
            For a CSV whose header cannot be read or does not fit the format, a bad column
            mapping, an unreadable Parquet file, or corrupt gzip data.
        """
        if self.fmt == "parquet":
            yield from self._parquet()
            return
        with open_input(self.path) as stream:
            lines = counted(read_lines(stream), self.tally)
            if self.fmt in ("payload-csv", "csv"):
                yield from self._csv(csv_records(lines, self.tally))
            elif self.fmt == "http-dump":
                parse = partial(http_dump.parse_http_dump, file_id=self.file_id)
                yield from parse_chunks(http_dump.split_requests(lines, self.tally), parse)
            else:
                yield from parse_chunks(line_records(lines, self.tally), self._line_parser())

    def check(self) -> None:
        """Validate what can be checked before loading: CSV header, Parquet schema, mapping.

        Raises
        ------
        InputError
            When the header or schema does not fit the format, table or mapping.
        """
        if self.fmt == "parquet":
            self._parquet_plan()
        elif self.fmt in ("payload-csv", "csv"):
            with open_input(self.path) as stream:
                self._csv_parser(csv_records(read_lines(stream), Tally()))

    def _line_parser(self) -> Callable:
        if self.fmt == "logpush":
            return partial(
                logpush.parse_logpush, file_id=self.file_id, columns=self.columns,
                unknown=self.unknown,
            )  # fmt: skip
        if self.fmt == "access-log":
            return partial(access_log.parse_access_log, file_id=self.file_id)
        year = self.year if self.year is not None else datetime.now(UTC).year
        clock = auth_log.SyslogClock(year)
        return partial(auth_log.parse_auth_log, file_id=self.file_id, clock=clock)

    def _csv(self, records: Iterator[RawRecord]) -> Iterator[Batch]:
        parse = self._csv_parser(records)
        if parse is not None:
            yield from parse_chunks(records, parse)

    def _csv_parser(self, records: Iterator[RawRecord]) -> Callable | None:
        first = next(records, None)
        if first is None:
            return None
        header = split_csv_text(first.text) if not first.cut else "the header line is too long"
        if isinstance(header, str):
            raise InputError(f"{self.path}: cannot read the CSV header: {header}")
        if self.fmt == "payload-csv":
            payload_csv.header_positions(header)
            split = (
                self.split if self.split is not None else payload_csv.infer_split(self.path.name)
            )
            parse = partial(
                payload_csv.parse_payload_csv, header=header, split=split,
                file_id=self.file_id, unknown=self.unknown,
            )  # fmt: skip
        else:
            plan = tabular.plan_columns(header, self.table, self.columns, self.mapping)
            parse = partial(
                tabular.parse_csv, plan=plan, width=len(header), file_id=self.file_id,
                unknown=self.unknown,
            )  # fmt: skip
        return parse

    def _parquet_plan(self) -> tuple[pq.ParquetFile, tabular.ColumnPlan]:
        if self.compressed:
            raise InputError(f"{self.path}: a Parquet file cannot be gzip-compressed")
        try:
            handle = pq.ParquetFile(self.path)
        except (OSError, pa.ArrowException) as exc:
            raise InputError(f"{self.path}: not a readable Parquet file ({exc})") from None
        try:
            names = handle.schema_arrow.names
            return handle, tabular.plan_columns(names, self.table, self.columns, self.mapping)
        except BaseException:
            handle.close()
            raise

    def _parquet(self) -> Iterator[Batch]:
        handle, plan = self._parquet_plan()
        with handle:
            total = max(handle.metadata.num_rows, 1)
            first = 1
            try:
                for batch in handle.iter_batches(batch_size=CHUNK_RECORDS):
                    rows, rejects = tabular.parse_parquet_batch(
                        batch, first_row=first, plan=plan, file_id=self.file_id,
                        unknown=self.unknown,
                    )  # fmt: skip
                    first += batch.num_rows
                    self.tally.nbytes = self.size * (first - 1) // total
                    yield rows, rejects, batch.num_rows
            except (OSError, pa.ArrowException) as exc:
                raise InputError(f"{self.path}: cannot read rows from {first} on ({exc})") from None


def scan_file(
    path: str | Path,
    fmt: str,
    *,
    table: str | None = None,
    columns: Mapping[str, str] | None = None,
    year: int | None = None,
    split: str | None = None,
    mapping: Mapping[str, str] | None = None,
    file_id: str | None = None,
) -> FileScan:
    """Prepare to read a file in a format; call ``.batches()`` on the result.

    Parameters
    ----------
    path : str or Path
        The file (gzip is detected and decompressed).
    fmt : str
        A key of :data:`FORMATS`.
    table : str, optional
        Target table; by default the format's.
    columns : mapping, optional
        Target column types; by default read from the table's schema file.
    year, split, mapping : optional
        Format options, as for :func:`workbench.ingest.ingest`.
    file_id : str, optional
        Content hash, when already computed; otherwise the file is hashed now.

    Returns
    -------
    FileScan
        Ready to iterate.

    Raises
    ------
    InputError
        For an unknown format, a missing table name, or an unreadable file.
    """
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    table = table or FORMATS[fmt]
    if table is None:
        raise InputError(f"format {fmt} needs a target table")
    path = Path(path)
    fp = fingerprint(path)
    return FileScan(
        path=path,
        fmt=fmt,
        table=table,
        columns=dict(columns) if columns is not None else schema_columns(table),
        file_id=file_id or fp.sha256,
        compressed=fp.compressed,
        size=fp.size,
        year=year,
        split=split,
        mapping=dict(mapping or {}),
    )


def parse_chunks(
    records: Iterable[RawRecord],
    parse: Callable[[list[tuple[int, str]]], tuple[pa.Table, list[Reject]]],
) -> Iterator[Batch]:
    """Group records into chunks and parse each; records too long to hold are rejected.

    Parameters
    ----------
    records : iterable of RawRecord
        From a record splitter.
    parse : callable
        A ``parse_<format>`` function taking ``(line, text)`` pairs.

    Yields
    ------
    Batch
        Rows, rejects and record count of each chunk.
    """
    chunk: list[RawRecord] = []
    size = 0
    for record in records:
        chunk.append(record)
        size += len(record.text)
        if len(chunk) >= CHUNK_RECORDS or size >= CHUNK_CHARS:
            yield _parse_chunk(chunk, parse)
            chunk, size = [], 0
    if chunk:
        yield _parse_chunk(chunk, parse)


def _parse_chunk(chunk: list[RawRecord], parse: Callable) -> Batch:
    too_long = [reject(r.number, TOO_LONG, r.text) for r in chunk if r.cut]
    rows, rejects = parse([(r.number, r.text) for r in chunk if not r.cut])
    return rows, too_long + rejects, len(chunk)
