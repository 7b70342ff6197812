"""The ClickHouse HTTP interface (the port 8123 protocol), served from an embedded chDB engine.

No ClickHouse server can be installed on our machines, so the server backend of the store is
tested against this: clickhouse-connect speaks its real wire protocol to :class:`ChdbHttpServer`
and the real ClickHouse engine (chDB) answers. :class:`ChdbHttpServerProcess` runs the same
server in a child process, with its own chDB engine and its own memory.

What it does, as ClickHouse does it:

- GET and POST on ``/`` (query = the ``query`` parameter, a newline, the body; or the fields of
  a ``multipart/form-data`` body) and ``/ping``.
- Basic auth, ``X-ClickHouse-User``/``-Key`` headers or ``user``/``password`` parameters, one
  way at a time; a wrong password is HTTP 403 ``Code: 516. ... (AUTHENTICATION_FAILED)``.
- ``database``, ``default_format``, ``query_id``, ``param_<name>`` (handed to chDB unchanged:
  it takes the same escaped text format); every other parameter is a setting for that query
  only (``max_execution_time`` included), set on a chDB connection of its own.
- ``session_id`` (+ ``session_timeout``, ``session_check``, ``close_session``): one chDB
  connection per session, so SET, USE and temporary tables last; concurrent use is
  SESSION_IS_LOCKED, and per-query settings are put back after each query.
- ``Content-Encoding`` gzip/deflate/zstd/lz4 request bodies (concatenated frames too);
  responses compressed when ``enable_http_compression=1``, picking zstd > lz4 > gzip > deflate
  among the ``Accept-Encoding`` offers, as the server prefers.
- ``INSERT ... FORMAT <fmt>`` with the data in the body, streamed into chDB's ``send_insert``
  (Native, Arrow, any input format; Map, LowCardinality and DateTime64 columns included).
- Results streamed block by block (chunked transfer encoding) with the first 1 MiB held back,
  so an early error is still a proper HTTP error (status as exceptionCodeToHTTPStatus.cpp,
  ``X-ClickHouse-Exception-Code``, body ``Code: N. DB::Exception: ... (NAME) (version V)``);
  a later one is framed in the body with the response's ``X-ClickHouse-Exception-Tag`` and the
  response is cut, as ClickHouse 25.11+ does. ``wait_end_of_query=1`` spools the whole result
  first (1 MiB in memory, then a temporary file).
- Headers ``X-ClickHouse-Query-Id``, ``-Format``, ``-Timezone``, ``-Server-Display-Name``,
  ``-Summary``.

What it does NOT implement:

- Users other than the one given, RBAC, roles, quotas, HTTPS, ``/play``, ``/replicas_status``,
  custom handlers, ``X-ClickHouse-Progress`` headers (the summary of a streamed response counts
  what was produced before its headers went out, as a server's does).
- External data (multipart file parts), ``compress``/``decompress`` (ClickHouse's own block
  compression) and brotli (not installed here): refused with NOT_IMPLEMENTED.
- ``query_id`` is echoed, not known to chDB (no KILL QUERY); ``client_protocol_version`` is
  ignored, so Native output has no block info and clickhouse-connect settles on protocol 0.
- ``FORMAT`` is recognised only as the last clause; INSERT data must follow ``FORMAT <name>``
  and such inserts take no query parameters (``send_insert`` has none); queries must be UTF-8.
- Streamed: formats whose per-block outputs concatenate (Native, RowBinary, TSV/CSV without
  names, JSONEachRow...) and ArrowStream (IPC messages spliced); Arrow files are rewritten by
  pyarrow, uncompressed; JSON, ``*WithNames``, Parquet and the rest are built whole in memory.
  Content-Type headers are approximate.

chDB runs ONE engine per process, bound to one path: a ``Session`` on a second path
(``:memory:`` included) fails with ``EmbeddedServer already initialized with path ...
(BAD_ARGUMENTS)`` until every session on the first path is closed; sessions on the same path
share the engine. So an in-process server must use the path of any embedded store open in the
same process; :class:`ChdbHttpServerProcess` is independent of both.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hmac
import io
import json
import os
import re
import secrets
import select
import shutil
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import lz4.frame
import pyarrow as pa
from backports import zstd
from chdb.session import Session

from workbench.errors import StoreError

_BUFFER = 1 << 20  # DBMS_DEFAULT_BUFFER_SIZE: output held back before the headers go out
_MAX_QUERY = 256 * 1024  # max_query_size: how far the head of an INSERT ... FORMAT is looked for
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TRAILING_FORMAT = re.compile(r"\bFORMAT\s+([A-Za-z][A-Za-z0-9_]*)\s*;?\s*$", re.IGNORECASE)
_INSERT_FORMAT = re.compile(
    rb"(\s*INSERT\s+INTO\s.*?)\bFORMAT\s+([A-Za-z][A-Za-z0-9_]*)", re.IGNORECASE | re.DOTALL
)
_CODES = {  # the errors raised here; tests check them against chDB's system.errors
    "BAD_ARGUMENTS": 36, "NOT_IMPLEMENTED": 48, "SYNTAX_ERROR": 62, "UNKNOWN_FORMAT": 73,
    "UNKNOWN_DATABASE": 81, "UNKNOWN_SETTING": 115, "SESSION_NOT_FOUND": 372,
    "SESSION_IS_LOCKED": 373, "INVALID_SESSION_TIMEOUT": 374, "AUTHENTICATION_FAILED": 516,
    "STD_EXCEPTION": 1001,
}  # fmt: skip
_STATUS = {  # ClickHouse src/Server/HTTP/exceptionCodeToHTTPStatus.cpp; anything else is 500
    name: status
    for status, names in {
        401: "REQUIRED_PASSWORD",
        403: "UNKNOWN_USER WRONG_PASSWORD AUTHENTICATION_FAILED SET_NON_GRANTED_ROLE ACCESS_DENIED",
        400: "BAD_ARGUMENTS CANNOT_COMPILE_REGEXP CANNOT_PARSE_TEXT CANNOT_PARSE_ESCAPE_SEQUENCE "
        "CANNOT_PARSE_QUOTED_STRING CANNOT_PARSE_DATE CANNOT_PARSE_DATETIME CANNOT_PARSE_NUMBER "
        "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING CANNOT_PARSE_IPV4 CANNOT_PARSE_IPV6 "
        "CANNOT_PARSE_INPUT_ASSERTION_FAILED CANNOT_PARSE_UUID DUPLICATE_COLUMN ILLEGAL_COLUMN "
        "UNKNOWN_ELEMENT_IN_AST UNKNOWN_TYPE_OF_AST_NODE THERE_IS_NO_COLUMN TOO_DEEP_AST "
        "TOO_BIG_AST UNEXPECTED_AST_STRUCTURE SYNTAX_ERROR INCORRECT_DATA TYPE_MISMATCH "
        "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
        404: "UNKNOWN_TABLE UNKNOWN_FUNCTION UNKNOWN_IDENTIFIER UNKNOWN_TYPE UNKNOWN_STORAGE "
        "UNKNOWN_DATABASE UNKNOWN_SETTING UNKNOWN_DIRECTION_OF_SORTING UNKNOWN_AGGREGATE_FUNCTION "
        "UNKNOWN_FORMAT UNKNOWN_DATABASE_ENGINE UNKNOWN_TYPE_OF_QUERY UNKNOWN_ROLE",
        413: "QUERY_IS_TOO_LARGE",
        501: "NOT_IMPLEMENTED",
        503: "SOCKET_TIMEOUT CANNOT_OPEN_FILE CANNOT_SCHEDULE_TASK",
        411: "HTTP_LENGTH_REQUIRED",
        408: "TIMEOUT_EXCEEDED",
        415: "UNSUPPORTED_MEDIA_TYPE",
    }.items()
    for name in names.split()
}
_RESERVED = frozenset(  # HTTP parameters that are not settings (HTTPHandler.cpp)
    "query database default_format user password quota_key query_id session_id session_timeout "
    "session_check close_session compress decompress buffer_size wait_end_of_query "
    "client_protocol_version role stacktrace".split()
)
_STREAMED = frozenset(  # formats whose per-block outputs concatenate into one valid output
    "native rowbinary rowbinarywithdefaults tabseparated tsv tabseparatedraw tsvraw csv values "
    "jsoneachrow jsoncompacteachrow jsonstringseachrow jsonlines ndjson lineasstring".split()
)
_ARROW = {"arrow": True, "arrowstream": False}  # format -> written as an Arrow file?
_ARROW_EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"  # continuation marker, zero length
_NOT_FORMATS = frozenset({"dataframe", "datastore", "arrowtable", "debug"})  # chDB-only results
_DECODERS: dict[str, Callable[[], Any]] = {
    "gzip": lambda: zlib.decompressobj(31),
    "deflate": lambda: zlib.decompressobj(15),
    "zstd": zstd.ZstdDecompressor,
    "lz4": lz4.frame.LZ4FrameDecompressor,
}
_PREFERENCE = ("zstd", "lz4", "gzip", "deflate")  # CompressionMethod.cpp order, minus br/snappy


class _Error(Exception):
    """A ClickHouse exception: its name, code and ``DB::Exception`` text."""

    def __init__(self, name: str, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.name, self.code = name, code if code is not None else _CODES[name]
        self.text = (
            message
            if message.startswith("Code: ")
            else (f"Code: {self.code}. DB::Exception: {message}. ({name})")
        )

    @classmethod
    def wrap(cls, exc: BaseException) -> _Error:
        """Convert an exception raised by chDB (its text holds ``Code: N. ...``)."""
        text = str(exc)
        found = re.search(r"Code: (\d+)\.", text)
        if not found:
            return cls("STD_EXCEPTION", f"{type(exc).__name__}: {text}")
        names = re.findall(r"\(([A-Z][A-Z0-9_]+)\)", text)
        return cls(names[-1] if names else "", text[found.start() :].strip(), int(found[1]))

    def body(self, version: str) -> bytes:
        """Return the text a ClickHouse server sends, ending with its version and a newline."""
        tail = "" if "(version " in self.text else f" (version {version})"
        return f"{self.text}{tail}\n".encode()


def _AuthFailed(message: str) -> _Error:  # noqa: N802  (reads as the exception it makes)
    return _Error("AUTHENTICATION_FAILED", message)


class _Encoder:
    """Compress a response body in pieces the client can decode as they arrive."""

    def __init__(self, name: str | None, level: int) -> None:
        self.name = name
        self.step: Callable[[bytes], bytes] = bytes
        self.end: Callable[[], bytes] = bytes
        if name in ("gzip", "deflate"):
            z = zlib.compressobj(level, zlib.DEFLATED, 31 if name == "gzip" else 15)
            self.step, self.end = lambda d: z.compress(d) + z.flush(zlib.Z_SYNC_FLUSH), z.flush
        elif name == "zstd":
            c = zstd.ZstdCompressor()
            self.step, self.end = lambda d: c.compress(d, c.FLUSH_BLOCK), c.flush
        elif name == "lz4":  # one LZ4 frame, as Lz4DeflatingWriteBuffer writes
            f = lz4.frame.LZ4FrameCompressor(auto_flush=True)
            head = [f.begin()]
            self.step = lambda d: (head.pop() if head else b"") + f.compress(d)
            self.end = lambda: (head.pop() if head else b"") + f.flush()


class _Sink(io.RawIOBase):
    """A write-only file that hands over what was written, keeping the offset for Arrow."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.parts.append(bytes(data))
        self.position += len(self.parts[-1])
        return len(self.parts[-1])

    def tell(self) -> int:
        return self.position

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


class _ArrowReframer:
    """Join chDB's per-block ArrowStream outputs (each a whole stream) into one stream or file.

    For a stream the IPC messages are spliced as they are (no decoding, compression kept):
    the schema of every chunk but the first and every end-of-stream marker are cut out. The
    file format needs a footer, so pyarrow rewrites the batches (uncompressed).
    """

    def __init__(self, file_format: bool) -> None:
        self.file_format, self.schema_sent = file_format, False
        self.sink, self.writer = _Sink(), None

    def feed(self, data: bytes) -> bytes | memoryview:
        if self.file_format:
            reader = pa.ipc.open_stream(data)
            if self.writer is None:
                self.writer = pa.ipc.new_file(pa.PythonFile(self.sink, mode="w"), reader.schema)
            for batch in reader:
                self.writer.write_batch(batch)
            return self.sink.take()
        schema_end = 8 + int.from_bytes(data[4:8], "little")  # continuation, length, metadata
        if pa.ipc.read_message(pa.py_buffer(data[:schema_end])).type != "schema":
            raise _Error("STD_EXCEPTION", "chDB ArrowStream chunk does not start with a schema")
        end = len(data) - (len(_ARROW_EOS) if data.endswith(_ARROW_EOS) else 0)
        start, self.schema_sent = (schema_end if self.schema_sent else 0), True
        return memoryview(data)[start:end]

    def close(self) -> bytes:
        if not self.file_format:
            return _ARROW_EOS
        if self.writer is not None:
            self.writer.close()
        return self.sink.take()


class _Output:
    """A response body: held back up to 1 MiB (or spooled whole), then sent chunked."""

    def __init__(self, handler: _Handler, headers: dict[str, str], encoder: _Encoder, spool: bool):
        self.handler, self.headers, self.encoder, self.started = handler, headers, encoder, False
        self.spool = tempfile.SpooledTemporaryFile(max_size=_BUFFER) if spool else None
        self.pending = bytearray()
        self.stats = dict.fromkeys(
            "read_rows read_bytes written_rows written_bytes result_rows result_bytes".split(), 0
        )
        self.started_ns = time.monotonic_ns()

    def count(self, result: Any, data_size: int = 0) -> None:
        """Add a chDB result's (or result chunk's) counters to the summary."""
        s = self.stats
        s["read_rows"] += result.storage_rows_read()
        s["read_bytes"] += result.storage_bytes_read()
        s["written_rows"] += result.rows_written()
        s["written_bytes"] += result.bytes_written()
        s["result_rows"] += result.rows_read()
        s["result_bytes"] += data_size

    def write(self, data: bytes) -> None:
        if self.spool is not None:
            self.spool.write(data)
            return
        self.pending += data
        if len(self.pending) >= _BUFFER:
            self._flush()

    def finish(self) -> None:
        if self.spool is not None:
            self.spool.seek(0)
            self._start()
            for piece in iter(lambda: self.spool.read(_BUFFER), b""):
                self._chunk(piece)
        self._flush()
        self._chunk(b"", self.encoder.end())
        self.handler.wfile.write(b"0\r\n\r\n")

    def fail(self, error: _Error, version: str) -> None:
        body = error.body(version)
        if not self.started:
            self.handler.send_response(_STATUS.get(error.name, 500))
            for name in ("X-ClickHouse-Query-Id", "X-ClickHouse-Server-Display-Name"):
                self.handler.send_header(name, self.headers[name])
            self.handler.send_header("X-ClickHouse-Exception-Code", str(error.code))
            self.handler.send_header("Content-Type", "text/plain; charset=UTF-8")
            self.handler.send_header("Content-Length", str(len(body)))
            self.handler.end_headers()
            self.handler.wfile.write(body)
            return
        # Headers and some data are out: frame the error in the body and cut the response
        # (WriteBufferFromHTTP1ServerResponse::cancelWithException, ClickHouse 25.11+).
        tag, body = self.headers["X-ClickHouse-Exception-Tag"].encode(), body[: 16 * 1024 - 80]
        self._flush()
        self._chunk(b"\r\n__exception__\r\n%s\r\n%s%d %s\r\n__exception__\r\n" % (
            tag, body, len(body), tag))  # fmt: skip
        self.handler.close_connection = True

    def _start(self) -> None:
        if self.started:
            return
        self.started = True
        elapsed = time.monotonic_ns() - self.started_ns
        summary = {**self.stats, "total_rows_to_read": self.stats["read_rows"]}
        summary = {k: str(v) for k, v in {**summary, "elapsed_ns": elapsed}.items()}
        self.handler.send_response(200)
        for name, value in self.headers.items():
            self.handler.send_header(name, value)
        self.handler.send_header("X-ClickHouse-Summary", json.dumps(summary, separators=(",", ":")))
        if self.encoder.name:
            self.handler.send_header("Content-Encoding", self.encoder.name)
        self.handler.send_header("Transfer-Encoding", "chunked")
        self.handler.end_headers()

    def _flush(self) -> None:
        self._start()
        data, self.pending = bytes(self.pending), bytearray()
        self._chunk(data)

    def _chunk(self, raw: bytes, tail: bytes = b"") -> None:
        data = (self.encoder.step(raw) if raw else b"") + tail
        if data:
            self.handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))


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


def _decompress(chunks: Iterator[bytes], encoding: str | None) -> Iterator[bytes]:
    """Decode a request body, including bodies made of several concatenated frames."""
    encoding = (encoding or "identity").strip().lower()
    if encoding == "identity":
        yield from chunks
        return
    if encoding not in _DECODERS:
        raise _Error("NOT_IMPLEMENTED", f"Unsupported Content-Encoding '{encoding[:50]}'")
    decoder = _DECODERS[encoding]()
    for chunk in chunks:
        while chunk:
            if data := decoder.decompress(chunk):
                yield data
            chunk = decoder.unused_data if decoder.eof else b""
            if decoder.eof:
                decoder = _DECODERS[encoding]()


def _multipart(body: bytes, content_type: str) -> dict[str, str]:
    """Return the fields of a ``multipart/form-data`` body (query and ``param_*``)."""
    found = re.search(r'boundary="?([^";]+)"?', content_type)
    if not found:
        raise _Error("BAD_ARGUMENTS", "multipart/form-data request without a boundary")
    fields = {}
    for part in body.split(b"--" + found[1].encode())[1:]:
        if part.startswith(b"--"):
            break
        head, _, value = part.partition(b"\r\n\r\n")
        if b"filename=" in head:
            raise _Error("NOT_IMPLEMENTED", "External data (file parts) is not supported here")
        name = re.search(rb'name="([^"]*)"', head)
        if name:
            fields[name[1].decode()] = value.removesuffix(b"\r\n").decode()
    return fields


def _split_query(prefix: bytes, body: Iterator[bytes]) -> tuple[bytes, Any, Iterator[bytes]]:
    """Read the query text; stop after ``INSERT ... FORMAT name`` so the data can stream."""
    buf, match = bytearray(prefix), None
    while not (match := _INSERT_FORMAT.match(buf, 0, _MAX_QUERY)) or match.end() == len(buf):
        if len(buf) > _MAX_QUERY or (chunk := next(body, None)) is None:
            break
        buf += chunk
    if match is None:
        buf += b"".join(body)
    return bytes(buf), match, body


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


def _encoding(accept: str) -> str | None:
    offered: dict[str, float] = {}
    for item in accept.split(","):
        token, _, weight = item.partition(";")
        try:
            offered[token.strip().lower()] = float(weight.strip()[2:]) if "q=" in weight else 1.0
        except ValueError:
            continue
    return next((n for n in _PREFERENCE if offered.get(n, offered.get("*", 0)) > 0), None)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms stalls

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (quiet tests)
        pass

    def do_GET(self) -> None:  # noqa: N802  (http.server's naming)
        self._serve()

    def do_POST(self) -> None:  # noqa: N802
        self._serve()

    def _serve(self) -> None:
        state = self.server.state
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        if url.path == "/ping" or (url.path == "/" and not params and self.command == "GET"):
            return self._plain(200, "Ok.\n")
        if url.path != "/":
            return self._plain(404, f"There is no handle {url.path}\n\nUse / or /ping.\n")
        headers = {
            "X-ClickHouse-Server-Display-Name": state.display_name,
            "X-ClickHouse-Query-Id": params.get("query_id") or str(uuid.uuid4()),
            "X-ClickHouse-Format": params.get("default_format")
            or self.headers.get("X-ClickHouse-Format", "TabSeparated"),
            "X-ClickHouse-Timezone": params.get("session_timezone") or state.timezone,
            "X-ClickHouse-Exception-Tag": "".join(
                secrets.choice(string.ascii_lowercase) for _ in range(16)
            ),
            "Content-Type": "text/plain; charset=UTF-8",
        }
        compress = _truthy(params.get("enable_http_compression"))
        level = params.get("http_zlib_compression_level", "3")
        accept = self.headers.get("Accept-Encoding", "") if compress else ""
        encoder = _Encoder(_encoding(accept), int(level) if level.isdigit() else 3)
        out = _Output(self, headers, encoder, spool=_truthy(params.get("wait_end_of_query")))
        body = _decompress(self._body(), self.headers.get("Content-Encoding"))
        try:
            try:
                self._run(state, params, headers, body, out)
                out.finish()
            except _Error as err:
                out.fail(err, state.version)
            except (ConnectionError, TimeoutError):
                raise
            except Exception as exc:
                out.fail(_Error.wrap(exc), state.version)
            if not self.close_connection:
                for _ in body:  # a keep-alive connection must not see this request's leftovers
                    pass
        except (ConnectionError, TimeoutError, _Error):
            self.close_connection = True

    def _run(self, state: _State, params: dict, headers: dict, body: Iterator[bytes], out: _Output):
        self._authenticate(state, params)
        if _truthy(params.get("compress")) or _truthy(params.get("decompress")):
            raise _Error("NOT_IMPLEMENTED", "compress/decompress (ClickHouse block compression)")
        content_type = self.headers.get("Content-Type", "")
        prefix = (params["query"] + "\n").encode() if params.get("query") else b""
        if content_type.startswith("multipart/form-data"):
            fields = _multipart(b"".join(body), content_type)
            prefix, body = (params.get("query", "") + fields.pop("query", "")).encode(), iter(())
            params.update(fields)
        query, insert, body = _split_query(prefix, body)
        settings = {k: v for k, v in params.items() if k not in _RESERVED and k[:6] != "param_"}
        bound = {k[6:]: v for k, v in params.items() if k[:6] == "param_"}
        database = params.get("database") or self.headers.get("X-ClickHouse-Database")
        with (
            state.connection(params) as (connection, keep),
            _query_scope(connection, settings, database, keep),
        ):
            if insert:
                if bound:
                    raise _Error("NOT_IMPLEMENTED", "query parameters in INSERT ... FORMAT")
                return _insert(connection, query, insert, body, out)
            try:
                sql = query.decode()
            except UnicodeDecodeError:
                raise _Error("BAD_ARGUMENTS", "The query is not valid UTF-8") from None
            if not sql.strip():
                raise _Error("SYNTAX_ERROR", "Empty query")
            if found := _TRAILING_FORMAT.search(sql):
                headers["X-ClickHouse-Format"], sql = found[1], sql[: found.start()]
            fmt = headers["X-ClickHouse-Format"]
            headers["Content-Type"] = _content_type(fmt)
            _select(connection, sql, fmt, bound, out)

    def _authenticate(self, state: _State, params: dict[str, str]) -> None:
        # HTTPHandler::authenticateUser: credentials come one way only; 'default' if none.
        user = self.headers.get("X-ClickHouse-User", "")
        key = self.headers.get("X-ClickHouse-Key", "")
        basic = self.headers.get("Authorization", "")
        ways = [way for way, used in [
            ("X-ClickHouse HTTP headers", user or key),
            ("Authorization HTTP header", basic),
            ("authentication via parameters", {"user", "password", "quota_key"} & set(params)),
        ] if used]  # fmt: skip
        if len(ways) > 1:
            raise _AuthFailed(f"Invalid authentication: it is not allowed to use {ways[0]} and "
                              f"{ways[1]} simultaneously")  # fmt: skip
        if basic:
            scheme, _, info = basic.partition(" ")
            if scheme.lower() != "basic":
                raise _AuthFailed(f"Invalid authentication: '{scheme[:20]}' HTTP Authorization "
                                  "scheme is not supported")  # fmt: skip
            try:
                user, _, key = base64.b64decode(info, validate=True).decode().partition(":")
            except ValueError:
                raise _AuthFailed("Invalid authentication: malformed Basic credentials") from None
        elif not (user or key):
            user, key = params.get("user", "default"), params.get("password", "")
        user = user or "default"
        same_user = hmac.compare_digest(user.encode(), state.user.encode())
        if not same_user & hmac.compare_digest(key.encode(), state.password.encode()):
            raise _AuthFailed(f"{user[:100]}: Authentication failed: password is incorrect, or "
                              "there is no user with such name")  # fmt: skip

    def _body(self) -> Iterator[bytes]:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while size := int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16):
                yield from self._read(size)
                self.rfile.readline(1024)
            while self.rfile.readline(1024).strip():  # trailers
                pass
        else:
            yield from self._read(int(self.headers.get("Content-Length") or 0))

    def _read(self, size: int) -> Iterator[bytes]:
        while size > 0:
            piece = self.rfile.read(min(size, _BUFFER))
            if not piece:
                raise ConnectionResetError("the client closed the connection mid-body")
            size -= len(piece)
            yield piece

    def _plain(self, status: int, text: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _content_type(fmt: str) -> str:
    key = fmt.lower()
    if key.startswith(("tabseparated", "tsv")):
        return "text/tab-separated-values; charset=UTF-8"
    if key.startswith("csv"):
        return "text/csv; charset=UTF-8; header=absent"
    if key.startswith("json"):
        return "application/json; charset=UTF-8"
    if key.startswith(("native", "rowbinary", "arrow", "parquet", "orc", "avro", "protobuf")):
        return "application/octet-stream"
    return "text/plain; charset=UTF-8"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, state: _State) -> None:
        super().__init__((host, 0), _Handler)
        self.state = state

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client hanging up is normal
            super().handle_error(request, client_address)


class _Endpoint:
    host = "127.0.0.1"
    port = 0

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Any:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class ChdbHttpServer(_Endpoint):
    """Serve the ClickHouse HTTP interface from chDB, in this process, on a loopback port.

    Parameters
    ----------
    data_path : str or None
        chDB data directory (created if missing); None makes a temporary one, removed at stop.
    user, password : str
        The one account the server accepts.
    """

    def __init__(self, data_path: str | None, user: str = "default", password: str = "") -> None:
        self.data_path, self.user, self.password = data_path, user, password
        self._server: _Server | None = None
        self._primary: Session | None = None
        self._temporary: str | None = None

    def start(self) -> None:
        """Open the chDB engine and start answering on an ephemeral port."""
        if self._server is not None:
            return
        if self.data_path is None:
            self._temporary = tempfile.mkdtemp(prefix="chdb-http-")
        path = self.data_path or self._temporary
        os.makedirs(path, exist_ok=True)
        try:  # the primary keeps the engine up while request connections come and go
            self._primary = Session(path)
        except RuntimeError as exc:
            if self._temporary:
                shutil.rmtree(self._temporary, ignore_errors=True)
            raise StoreError(
                f"cannot open chDB at {path} for the HTTP server: {exc}. chDB runs one engine per "
                "process; share the path of the embedded store or use ChdbHttpServerProcess"
            ) from exc
        self._server = _Server(self.host, _State(path, self.user, self.password, self._primary))
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, name="chdb-http", daemon=True).start()

    def stop(self) -> None:
        """Stop answering, close every chDB connection and drop a temporary data directory."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self._server.state.lock:
            self._server.state.expire(everything=True)
        self._primary.close()
        self._server = self._primary = None
        if self._temporary:
            shutil.rmtree(self._temporary, ignore_errors=True)
            self._temporary = None


class ChdbHttpServerProcess(_Endpoint):
    """The same server in a child process (its own chDB engine, path and memory).

    Parameters are those of :class:`ChdbHttpServer`; the password reaches the child through
    its environment, never its command line.
    """

    def __init__(self, data_path: str | None, user: str = "default", password: str = "") -> None:
        self.data_path, self.user, self.password = data_path, user, password
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        """Start the child and wait until it listens."""
        if self.process is not None:
            return
        command = [sys.executable, os.path.abspath(__file__), "--user", self.user]
        command += ["--data-path", self.data_path] if self.data_path else []
        env = {**os.environ, "CHDB_HTTP_PASSWORD": self.password}
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True
        )
        ready, _, _ = select.select([self.process.stdout], [], [], 60)
        line = self.process.stdout.readline() if ready else "(nothing in 60 s)"
        if not line.startswith("listening "):
            self.stop()
            raise StoreError(f"the chDB HTTP server process did not start (its output: {line!r})")
        self.port = int(line.split()[1])

    def stop(self) -> None:
        """Ask the child to stop (close its stdin) and wait for it; kill it after 10 s."""
        if self.process is None:
            return
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
        self.process = None


def main(argv: list[str] | None = None) -> None:
    """Run a server until stdin closes; print ``listening PORT`` once it answers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-path")
    parser.add_argument("--user", default="default")
    args = parser.parse_args(argv)
    password = os.environ.get("CHDB_HTTP_PASSWORD", "")
    with ChdbHttpServer(args.data_path, args.user, password) as server:
        print(f"listening {server.port}", flush=True)
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # nobody reads the pipe from now on
        sys.stdin.read()


if __name__ == "__main__":
    main()
