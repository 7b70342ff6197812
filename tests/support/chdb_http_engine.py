"""The chDB side of the ClickHouse HTTP interface: connections, sessions, queries, inserts.

:class:`_State` hands out one chDB connection per query or per named session; the functions
here apply a query's settings and database, stream ``INSERT ... FORMAT`` data into
``send_insert`` and pump query results block by block into an :class:`_Output`.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from chdb.session import Session

from tests.support.chdb_http_output import _ArrowReframer, _Output
from tests.support.chdb_http_protocol import _ARROW, _IDENTIFIER, _NOT_FORMATS, _STREAMED, _Error


class _NamedSession:
    def __init__(self, connection: Session, timeout: int) -> None:
        self.connection, self.timeout, self.used = connection, timeout, time.monotonic()
        self.lock = threading.Lock()


class _State:
    """What the request handlers share: the chDB path, credentials and named sessions."""

    def __init__(self, path: str, user: str, password: str, primary: Session) -> None:
        self.path, self.user, self.password = path, user, password
        self.version, self.timezone = _scalar(primary, "SELECT version(), timezone()").split("\t")
        self.display_name = socket.gethostname()
        self.sessions: dict[str, _NamedSession] = {}
        self.lock = threading.Lock()

    @contextlib.contextmanager
    def connection(self, params: dict[str, str]) -> Iterator[tuple[Session, bool]]:
        """Yield a chDB connection for one query and whether it belongs to a named session."""
        sid = params.get("session_id")
        if not sid:  # a connection of its own: settings and USE die with it, as on a server
            connection = Session(self.path)
            try:
                yield connection, False
            finally:
                connection.close()
            return
        timeout = params.get("session_timeout", "60")
        if not timeout.isdigit() or int(timeout) > 3600:
            raise _Error("INVALID_SESSION_TIMEOUT", f"Invalid session timeout: '{timeout}'")
        with self.lock:
            self.expire()
            named = self.sessions.get(sid)
            if named is None:
                if params.get("session_check") in ("1", "true"):
                    raise _Error("SESSION_NOT_FOUND", f"Session {sid} not found")
                named = self.sessions[sid] = _NamedSession(Session(self.path), int(timeout))
            if not named.lock.acquire(blocking=False):
                raise _Error("SESSION_IS_LOCKED", f"Session {sid} is locked by a concurrent client")
        try:
            yield named.connection, True
        finally:
            named.used, named.timeout = time.monotonic(), int(timeout)
            named.lock.release()
            if params.get("close_session") in ("1", "true"):
                with self.lock:
                    self.sessions.pop(sid, None)
                named.connection.close()

    def expire(self, everything: bool = False) -> None:
        now = time.monotonic()
        for sid, named in list(self.sessions.items()):
            if everything or (not named.lock.locked() and now - named.used > named.timeout):
                del self.sessions[sid]
                named.connection.close()


def _scalar(connection: Session, sql: str) -> str:
    return connection.query(sql, "TabSeparatedRaw").bytes().decode().rstrip("\n")


def _escape(value: str) -> str:
    """Write a raw string in the escaped text format chDB's ``params`` expect."""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _use(connection: Session, database: str) -> None:
    if not _IDENTIFIER.fullmatch(database):
        raise _Error("UNKNOWN_DATABASE", f"Database {database[:200]} does not exist")
    connection.query(f"USE {database}")


def _set(connection: Session, name: str, value: str) -> None:
    connection.query(f"SET {name} = {{value:String}}", params={"value": _escape(value)})


@contextlib.contextmanager
def _query_scope(connection: Session, settings: dict[str, str], database: str | None, keep: bool):
    """Apply a query's database and settings; in a named session, put the old ones back after."""
    undo: list[Callable[[], None]] = []
    before: dict[str, str] = {}
    try:
        for name in settings:
            if not _IDENTIFIER.fullmatch(name):
                raise _Error("UNKNOWN_SETTING", f"Unknown setting '{name[:200]}'")
        if keep and settings:
            rows = connection.query(
                "SELECT name, value FROM system.settings WHERE has({names:Array(String)}, name)",
                "JSONEachRow", params={"names": "[" + ",".join(f"'{n}'" for n in settings) + "]"},
            ).bytes().splitlines()  # fmt: skip
            before = {row["name"]: row["value"] for row in map(json.loads, rows)}
        for name, value in settings.items():
            if keep and before.get(name) == value:
                continue
            _set(connection, name, value)
            if keep and name in before:
                undo.append(lambda name=name: _set(connection, name, before[name]))
        if database:
            current = _scalar(connection, "SELECT currentDatabase()") if keep else database
            _use(connection, database)
            if current != database:
                undo.append(lambda: _use(connection, current))
        yield
    finally:
        for step in reversed(undo):
            step()


def _insert(connection: Session, query: bytes, match: Any, body: Iterator[bytes], out: _Output):
    pos = match.end()
    while query[pos : pos + 1] in (b" ", b"\t", b"\f"):
        pos += 1
    if query[pos : pos + 1] == b";":
        raise _Error("SYNTAX_ERROR", "You have excessive ';' symbol before data for INSERT")
    pos += query[pos : pos + 1] == b"\r"
    pos += query[pos : pos + 1] == b"\n"
    inserter = connection.send_insert(match[1].decode().strip(), match[2].decode())
    try:
        if query[pos:]:
            inserter.append(query[pos:])
        for chunk in body:
            inserter.append(chunk)
        result = inserter.finish()
    finally:
        with contextlib.suppress(RuntimeError):
            inserter.cancel()  # a no-op after finish()
    out.stats["written_rows"] += result.rows_written
    out.stats["written_bytes"] += result.bytes_written


def _select(connection: Session, sql: str, fmt: str, params: dict[str, str], out: _Output):
    key = fmt.lower()
    if key in _NOT_FORMATS:
        raise _Error("UNKNOWN_FORMAT", f"Unknown format {fmt}")
    if key in _STREAMED or key in _ARROW:
        try:
            stream = connection.send_query(sql, "ArrowStream" if key in _ARROW else fmt, params)
        except Exception as exc:  # DDL, SET, INSERT ... SELECT: chDB runs those unstreamed
            if "Streaming query is not supported" not in str(exc):
                raise
        else:
            return _pump(stream, out, _ArrowReframer(_ARROW[key]) if key in _ARROW else None)
    result = connection.query(sql, fmt, params=params)
    data = result.bytes()
    out.count(result, len(data))
    out.write(data)


def _pump(stream: Any, out: _Output, reframer: _ArrowReframer | None) -> None:
    # The public iterator drops a first chunk that has bytes but no rows (the schema of an
    # empty ArrowStream result), so fetch at the level below it.
    done = False
    try:
        while (raw := stream._conn.streaming_fetch_result(stream._result)) is not None:
            data = raw.bytes()
            out.count(raw, len(data))
            if data:
                out.write(reframer.feed(data) if reframer else data)
            if raw.rows_read() == 0:
                break
        done = True
        if reframer:
            out.write(reframer.close())
    finally:
        if not done:  # an error, or the client went away: stop the query
            with contextlib.suppress(Exception):
                stream.cancel()
