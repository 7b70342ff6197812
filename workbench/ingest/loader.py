"""``ingest()``: stream files into their table in chunks, quarantine rejects, keep a ledger.

For each file:

1. Hash its (decompressed) content. ``Source`` of every row it produces is
   ``<file name>#<first 16 hex digits of the SHA-256>``, so rows can be traced to the file
   and the content, whatever the path.
2. Look the hash up in ``ingest_files`` for the target table: if it is there the file was
   loaded completely before; report "already loaded", read nothing, insert nothing.
3. Otherwise delete any rows a previous, unfinished load of the same content left in the
   target table and in ``quarantine`` (matched on the ``#<hash>`` suffix of ``Source``), so a
   load interrupted mid-file (crash, Ctrl-C, lost connection) is simply run again.
4. Read the file in chunks (at most :data:`CHUNK_RECORDS` records or
   :data:`CHUNK_CHARS` characters), parse each chunk, insert good rows and rejects.
5. Write the ledger row last: only a finished load counts as loaded.

Two processes loading the same file at the same moment are not coordinated. ``quarantine``
has no target-table column, so step 3 removes quarantined records of the same content and
format whatever table they were bound for (only matters when one file is loaded into two
tables and one of those loads is interrupted). On a cluster,
step 3 needs ``ALTER TABLE ... DELETE`` rights on the target table (its ``_local`` tables on a
cluster).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
from tqdm import tqdm

from workbench.errors import InputError
from workbench.ingest import access_log, auth_log, http_dump, logpush, payload_csv
from workbench.ingest.common import TIMESTAMP, Reject
from workbench.ingest.reader import fingerprint, is_gzip
from workbench.ingest.result import FileResult, IngestResult
from workbench.ingest.scan import FORMATS, FileScan
from workbench.store.identifiers import check_identifier

#: Columns each fixed-layout format writes; the target table must have them.
_WRITES = {
    "access-log": access_log.COLUMNS,
    "http-dump": http_dump.COLUMNS,
    "payload-csv": payload_csv.COLUMNS,
    "auth-log": auth_log.COLUMNS,
    "logpush": ("RayID", *logpush.REQUIRED),
}


def ingest(
    store,
    fmt: str,
    paths: Sequence[str | Path] | str | Path,
    table: str | None = None,
    label: str | None = None,
    year: int | None = None,
    mapping: Mapping[str, str] | None = None,
    split: str | None = None,
    progress: bool = True,
) -> IngestResult:
    """Load files of one format into a table; every record is loaded or quarantined.

    Parameters
    ----------
    store : Store
        Where to load (see :func:`workbench.store.connect`).
    fmt : str
        One of :data:`FORMATS`: ``logpush``, ``access-log``, ``http-dump``, ``payload-csv``,
        ``auth-log``, ``csv``, ``parquet``.
    paths : path or sequence of paths
        Files to load; ``.gz`` (any gzip file) is decompressed on the fly.
    table : str, optional
        Target table; by default the format's (``http_requests``, ``payloads``,
        ``auth_events``). Required for ``csv`` and ``parquet``.
    label : str, optional
        Value of the ``label`` column for every row (for example ``normal`` or
        ``anomalous`` for a CSIC 2010 file). Not for ``payload-csv``, whose rows carry theirs.
    year : int, optional
        ``auth-log`` only: year of the first line when lines have none; default this year.
    mapping : mapping, optional
        ``csv``/``parquet`` only: ``{file column: table column}``.
    split : str, optional
        ``payload-csv`` only: value of ``Split``; by default from the file name.
    progress : bool, default True
        Show progress bars on stderr.

    Returns
    -------
    IngestResult
        Per-file counts: read, loaded, quarantined, blank lines, already loaded, unknown
        fields.

    Raises
    ------
    InputError
        For an unknown format, a missing file, an option the format does not take, a table
        without the needed columns, a bad CSV header or mapping, an unreadable Parquet file.
    StoreError
        When the store fails (the file is then not in the ledger: run the load again).
    """
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    files = [Path(p) for p in ([paths] if isinstance(paths, str | Path) else paths)]
    if not files:
        raise InputError("no input files given")
    for path in files:
        if not path.is_file():
            raise InputError(
                f"{path}: no such file" if not path.exists() else f"{path}: not a file"
            )
    target = _check_options(fmt, table, label, year, mapping, split)
    columns = dict(store.columns(target))
    _check_table(fmt, target, columns, label)
    result = IngestResult()
    for path in files:
        result.files.append(
            _load_file(store, fmt, path, target, columns, label, year, dict(mapping or {}),
                       split, progress)
        )  # fmt: skip
    return result


def _check_options(fmt, table, label, year, mapping, split) -> str:
    target = table or FORMATS[fmt]
    if target is None:
        raise InputError(f"format {fmt} needs a target table (--table)")
    check_identifier(target)
    if mapping and fmt not in ("csv", "parquet"):
        raise InputError(f"--map is for csv and parquet files, not {fmt}")
    if year is not None and fmt != "auth-log":
        raise InputError(f"--year is for auth-log files, not {fmt}")
    if year is not None and not 1900 <= year <= 2299:
        raise InputError(f"--year {year} is outside 1900-2299")
    if split is not None and fmt != "payload-csv":
        raise InputError(f"--split is for payload-csv files, not {fmt}")
    if label is not None and fmt == "payload-csv":
        raise InputError("payload-csv files carry their own labels; --label is not used")
    return target


def _check_table(fmt: str, table: str, columns: dict[str, str], label: str | None) -> None:
    needed = list(_WRITES.get(fmt, ()))
    if label is not None:
        needed.append("label")
    missing = [c for c in needed if c not in columns]
    if missing:
        raise InputError(f"table {table} lacks column(s) {', '.join(missing)} needed by {fmt}")


def _load_file(store, fmt, path, table, columns, label, year, mapping, split, progress):
    total = None if is_gzip(path) else path.stat().st_size
    with tqdm(total=total, unit="B", unit_scale=True, desc=f"hash {path.name}",
              file=sys.stderr, disable=not progress, leave=False) as bar:  # fmt: skip
        fp = fingerprint(path, progress=bar.update)
    source = f"{path.name}#{fp.sha256[:16]}"
    result = FileResult(str(path), fmt, table, source, fp.sha256)
    scan = FileScan(path, fmt, table, columns, fp.sha256, fp.compressed, fp.size, year, split,
                    mapping)  # fmt: skip
    try:
        scan.check()
    except InputError as exc:
        message = str(exc)
        raise InputError(
            message if message.startswith(str(path)) else f"{path}: {message}"
        ) from None
    if _in_ledger(store, fp.sha256, table):
        result.already_loaded = True
        return result
    result.cleaned = _clean_unfinished(store, fp.sha256, fmt, table, columns)
    with tqdm(total=fp.size, unit="B", unit_scale=True, desc=path.name, file=sys.stderr,
              disable=not progress) as bar:  # fmt: skip
        done = 0
        for rows, rejects, count in scan.batches():
            if rows.num_rows + len(rejects) != count:  # pragma: no cover - a parser bug
                raise AssertionError(
                    f"{fmt} parser accounted for {rows.num_rows + len(rejects)} of {count} records"
                )
            result.read += count
            result.loaded += _insert_rows(store, table, columns, source, label, rows)
            result.quarantined += _insert_rejects(store, fmt, source, rejects)
            bar.update(max(scan.tally.nbytes - done, 0))
            done = max(done, scan.tally.nbytes)
    result.blank = scan.tally.blank
    result.unknown_fields = dict(scan.unknown.most_common())
    store.insert_arrow(
        "ingest_files",
        pa.table(
            {
                "LoadedAt": pa.array([_now()], type=TIMESTAMP),
                "Source": [source],
                "Sha256": [fp.sha256],
                "Format": [fmt],
                "TargetTable": [table],
                "RowsRead": pa.array([result.read], type=pa.uint64()),
                "RowsLoaded": pa.array([result.loaded], type=pa.uint64()),
                "RowsQuarantined": pa.array([result.quarantined], type=pa.uint64()),
            }
        ),
    )
    return result


def _now() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def _in_ledger(store, sha256: str, table: str) -> bool:
    found = store.query_arrow(
        "SELECT count() AS n FROM ingest_files "
        "WHERE Sha256 = {sha:String} AND TargetTable = {table:String}",
        {"sha": sha256, "table": table},
    )
    return found.column(0)[0].as_py() > 0


def _clean_unfinished(store, sha256: str, fmt: str, table: str, columns: dict[str, str]) -> int:
    params = {"suffix": f"#{sha256[:16]}", "fmt": fmt}
    removed = 0
    targets = [(check_identifier(table), "")] if "Source" in columns else []
    targets.append(("quarantine", " AND Format = {fmt:String}"))
    for name, extra in targets:
        where = "endsWith(Source, {suffix:String})" + extra
        count = store.query_arrow(f"SELECT count() FROM {name} WHERE {where}", params)  # noqa: S608 - checked identifier
        n = count.column(0)[0].as_py()
        if n:
            store.mutate(name, f"DELETE WHERE {where}", params, settings={"mutations_sync": 2})
            removed += n if name != "quarantine" else 0
    return removed


def _insert_rows(store, table, columns, source, label, rows: pa.Table) -> int:
    if rows.num_rows == 0:
        return 0
    if "Source" in columns and "Source" not in rows.column_names:
        rows = rows.append_column("Source", pa.array([source] * rows.num_rows, pa.string()))
    if label is not None:
        labels = pa.array([label] * rows.num_rows, pa.string())
        if "label" in rows.column_names:
            rows = rows.set_column(rows.column_names.index("label"), "label", labels)
        else:
            rows = rows.append_column("label", labels)
    return store.insert_arrow(table, rows)


def _insert_rejects(store, fmt: str, source: str, rejects: list[Reject]) -> int:
    if not rejects:
        return 0
    n = len(rejects)
    return store.insert_arrow(
        "quarantine",
        pa.table(
            {
                "QuarantinedAt": pa.array([_now()] * n, type=TIMESTAMP),
                "Source": [source] * n,
                "Format": [fmt] * n,
                "LineNumber": pa.array([r.line for r in rejects], type=pa.uint64()),
                "Reason": [r.reason for r in rejects],
                "Raw": [r.raw for r in rejects],
            }
        ),
    )
