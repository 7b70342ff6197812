"""The embedded store: ClickHouse in this process through chDB, persisted on local disk.

Each ``EmbeddedStore`` holds its own chDB session (a connection with its own current database);
a session is safe to use from several threads. chDB runs one engine per process, bound to one
data folder, so every store open at the same time in a process uses the same folder; separate
databases in that folder keep data apart.
"""

from __future__ import annotations

import contextlib
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
from workbench.store.identifiers import check_identifier
from workbench.store.params import settings_clause, to_wire

_CODE = re.compile(r"Code:\s*(\d+)")
_TIMEOUT_CODES = {159, 160}  # TIMEOUT_EXCEEDED, TOO_SLOW

# chDB runs one engine per process, bound to one data folder: sessions on that folder share
# it, and another folder can be opened only once every session on the first is closed.
_ENGINE_LOCK = threading.Lock()
_ENGINE: dict[str, Any] = {"path": None, "open": 0}


def _open_session(path: Path) -> chdb_session.Session:
    with _ENGINE_LOCK:
        if _ENGINE["open"] and _ENGINE["path"] != path:
            raise StoreError(
                f"chDB can open one data folder per process and {_ENGINE['path']} is open; "
                f"close its stores before opening {path} (or use the same WB_DATA_DIR)"
            )
        path.mkdir(parents=True, exist_ok=True)
        session = chdb_session.Session(str(path))
        _ENGINE.update(path=path, open=_ENGINE["open"] + 1)
        return session


def open_folder() -> Path | None:
    """Return the data folder this process has open through chDB, or None.

    Another process (a report kernel, say) cannot open that folder until it is released.

    Returns
    -------
    Path or None
        The folder of the open sessions, if any.
    """
    with _ENGINE_LOCK:
        return _ENGINE["path"] if _ENGINE["open"] else None


def _close_session(session: chdb_session.Session) -> None:
    with _ENGINE_LOCK:
        session.cleanup()
        _ENGINE["open"] = max(0, _ENGINE["open"] - 1)


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
    database : str, optional
        Database to use (created if missing); ClickHouse's ``default`` when omitted.
    timeout_s : float, optional
        Per-query time limit (``max_execution_time``); none when omitted.

    Raises
    ------
    StoreError
        When another data folder is already open in this process.
    """

    backend = "embedded"

    def __init__(
        self, path: str | Path, database: str | None = None, timeout_s: float | None = None
    ) -> None:
        super().__init__()
        self.path = Path(path).resolve()
        self.database = check_identifier(database) if database else "default"
        self.timeout_s = timeout_s
        self._setup = []
        if timeout_s:
            self._setup.append(f"SET max_execution_time = {max(1, int(timeout_s))}")
        self._free: list[chdb_session.Session] = []
        self._open: list[chdb_session.Session] = []
        self._lock = threading.Lock()
        self._closed = False
        # open the first session now, so that a clash of data folders fails here
        first = self._acquire()
        if database:
            try:
                first.query(f"CREATE DATABASE IF NOT EXISTS {database}")
                first.query(f"USE {database}")
            except Exception as exc:
                raise query_error(exc) from None
            self._setup.append(f"USE {database}")
        self._release(first)

    def describe(self) -> str:
        """Say where this store lives."""
        return f"embedded ClickHouse (chDB) at {self.path}, database {self.database}"

    def close(self) -> None:
        """Close this store's sessions; the data folder is released with the last of them."""
        with self._lock:
            self._closed, sessions = True, self._open
            self._open, self._free = [], []
        for session in sessions:
            _close_session(session)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: S110 - interpreter shutdown; nothing left to report to
            pass

    # A chDB session runs one statement at a time (concurrent parameterized queries on one
    # session see each other's parameters, and a query on a streaming session ends the
    # stream), so each statement or stream checks out a session of its own from a pool.
    def _acquire(self) -> chdb_session.Session:
        with self._lock:
            if self._closed:
                raise StoreError(f"{self.describe()} is closed")
            if self._free:
                return self._free.pop()
        session = _open_session(self.path)
        try:
            for statement in self._setup:
                session.query(statement)
        except Exception as exc:
            _close_session(session)
            raise query_error(exc) from None
        with self._lock:
            self._open.append(session)
        return session

    def _release(self, session: chdb_session.Session) -> None:
        with self._lock:
            if not self._closed and session in self._open:
                self._free.append(session)

    def _discard(self, session: chdb_session.Session) -> None:
        with self._lock:
            if session in self._open:
                self._open.remove(session)
        _close_session(session)

    @contextlib.contextmanager
    def _session(self) -> Iterator[chdb_session.Session]:
        # A session whose statement failed is closed, not reused: after a query stopped by
        # its time limit, chDB hands the next query on that session a corrupt result.
        session = self._acquire()
        try:
            yield session
        except BaseException:
            self._discard(session)
            raise
        self._release(session)

    def _sql(self, sql: str, settings: Mapping | None) -> str:
        clause = settings_clause(settings)
        return sql.rstrip().rstrip(";") + clause if clause else sql

    def _query_arrow(self, sql: str, parameters: dict, settings: Mapping | None) -> pa.Table:
        with self._session() as session:
            try:
                return session.query(
                    self._sql(sql, settings), "ArrowTable", params=to_wire(parameters)
                )
            except Exception as exc:  # chDB raises ChdbError / RuntimeError
                raise query_error(exc) from None

    def _stream(
        self, sql: str, parameters: dict, settings: Mapping | None, batch_rows: int
    ) -> ArrowStream:
        session = self._acquire()
        try:
            streaming = session.send_query(
                self._sql(sql, settings), "Arrow", params=to_wire(parameters)
            )
            reader = streaming.record_batch(rows_per_batch=batch_rows)
        except Exception as exc:
            self._discard(session)
            raise query_error(exc) from None

        failed = []

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                yield from reader
            except Exception as exc:
                failed.append(exc)
                raise query_error(exc) from None

        def close() -> None:
            try:
                streaming.cancel()
            finally:
                (self._discard if failed else self._release)(session)

        return ArrowStream(batches(), close=close)

    def _insert_arrow(self, table: str, data: pa.Table) -> None:
        columns = ", ".join(data.column_names)
        sink = io.BytesIO()
        with self._session() as session:
            try:
                inserter = session.send_insert(f"INSERT INTO {table} ({columns})", "ArrowStream")
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
        with self._session() as session:
            try:
                result = session.query(self._sql(sql, settings), "CSV", params=to_wire(parameters))
            except Exception as exc:
                raise query_error(exc) from None
        text = result.bytes().decode("utf-8", "replace").strip() if result is not None else ""
        return text or None
