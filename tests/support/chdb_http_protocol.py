"""The HTTP side of the chDB-backed ClickHouse interface, with no chDB in it.

Error shapes and their HTTP statuses, the parameters that are not settings, the formats that
stream, request body decoding (Content-Encoding, multipart fields), finding where the query of
an ``INSERT ... FORMAT`` ends, response compression and Content-Type. Used by
:mod:`tests.support.chdb_http` (see its docstring for what the server does).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import lz4.frame
from backports import zstd

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
