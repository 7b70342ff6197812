"""The embedded store: ClickHouse in this process through chDB, persisted on local disk.

One chDB session is opened per data folder and shared by every ``EmbeddedStore`` on that
folder; chDB sessions are safe to use from several threads.
"""

from __future__ import annotations

import atexit
import io
import re
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
from chdb import session as chdb_session

from workbench.errors import QueryError, QueryTimeout, StoreError
from workbench.store.base import ArrowStream, Store
from workbench.store.params import settings_clause, to_wire

_SESSIONS: dict[Path, chdb_session.Session] = {}
_SESSIONS_LOCK = threading.Lock()
_CODE = re.compile(r"Code:\s*(\d+)")
_TIMEOUT_CODES = {159, 160}  # TIMEOUT_EXCEEDED, TOO_SLOW


def _session(path: Path) -> chdb_session.Session:
    with _SESSIONS_LOCK:
        if path not in _SESSIONS:
            path.mkdir(parents=True, exist_ok=True)
            _SESSIONS[path] = chdb_session.Session(str(path))
        return _SESSIONS[path]


@atexit.register
def _close_sessions() -> None:
    with _SESSIONS_LOCK:
        for sess in _SESSIONS.values():
            sess.cleanup()
        _SESSIONS.clear()


def query_error(exc: Exception) -> QueryError:
    """Turn a ClickHouse error message into a typed :class:`QueryError`.

    Parameters
    ----------
    exc : Exception
        The error raised by the engine or driver.

    Returns
    -------
    QueryError
        ``QueryTimeout`` for time limits, ``QueryError`` otherwise, with the code kept.
    """
    text = str(exc).strip()
    match = _CODE.search(text)
    code = int(match.group(1)) if match else None
    first = text.splitlines()[0] if text else type(exc).__name__
    if len(first) > 500:
        first = first[:500] + " ..."
    cls = QueryTimeout if code in _TIMEOUT_CODES else QueryError
    return cls(f"ClickHouse error: {first}", code=code)


class EmbeddedStore(Store):
    """ClickHouse embedded in this process (chDB), persisted under ``path``.

    Parameters
    ----------
    path : str or Path
        The data folder; created if missing.
    timeout_s : float, optional
        Per-query time limit (``max_execution_time``); none when omitted.
    """

    backend = "embedded"

    def __init__(self, path: str | Path, timeout_s: float | None = None) -> None:
        super().__init__()
        self.path = Path(path).resolve()
        self.timeout_s = timeout_s
        self._session = _session(self.path)

    def describe(self) -> str:
        """Say where this store lives."""
        return f"embedded ClickHouse (chDB) at {self.path}"

    def _sql(self, sql: str, settings: Mapping | None) -> str:
        merged = dict(settings or {})
        if self.timeout_s and "max_execution_time" not in merged:
            merged["max_execution_time"] = int(self.timeout_s)
        clause = settings_clause(merged)
        return sql.rstrip().rstrip(";") + clause if clause else sql

    def _query_arrow(self, sql: str, parameters: dict, settings: Mapping | None) -> pa.Table:
        try:
            result = self._session.query(self._sql(sql, settings), "ArrowTable", params=to_wire(parameters))
        except Exception as exc:  # chDB raises ChdbError / RuntimeError
            raise query_error(exc) from None
        return result

    def _stream(
        self, sql: str, parameters: dict, settings: Mapping | None, batch_rows: int
    ) -> ArrowStream:
        try:
            streaming = self._session.send_query(
                self._sql(sql, settings), "Arrow", params=to_wire(parameters)
            )
            reader = streaming.record_batch(rows_per_batch=batch_rows)
        except Exception as exc:
            raise query_error(exc) from None

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                yield from reader
            except StoreError:
                raise
            except Exception as exc:
                raise query_error(exc) from None

        return ArrowStream(batches(), close=streaming.cancel)

    def _insert_arrow(self, table: str, data: pa.Table) -> None:
        columns = ", ".join(data.column_names)
        sink = io.BytesIO()
        try:
            inserter = self._session.send_insert(f"INSERT INTO {table} ({columns})", "ArrowStream")
            with pa.ipc.new_stream(sink, data.schema) as writer:
                for batch in data.to_batches(max_chunksize=262_144):
                    writer.write_batch(batch)
                    if sink.tell() > 64 * 2**20:
                        inserter.append(sink.getvalue())
                        sink.seek(0)
                        sink.truncate()
            inserter.append(sink.getvalue())
            inserter.finish()
        except Exception as exc:
            raise query_error(exc) from None

    def _command(self, sql: str, parameters: dict, settings: Mapping | None) -> Any:
        try:
            result = self._session.query(self._sql(sql, settings), "CSV", params=to_wire(parameters))
        except Exception as exc:
            raise query_error(exc) from None
        text = result.bytes().decode("utf-8", "replace").strip() if result is not None else ""
        return text or None
