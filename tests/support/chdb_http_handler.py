"""The request handler and HTTP server of the chDB-backed ClickHouse interface.

:class:`_Handler` answers ``/`` and ``/ping``: it authenticates, reads parameters, settings
and the (decompressed, possibly chunked or multipart) body, and runs the query or insert on a
chDB connection from the server's :class:`_State`.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import socket
import string
import sys
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.support.chdb_http_engine import _insert, _query_scope, _select, _State
from tests.support.chdb_http_output import _Output
from tests.support.chdb_http_protocol import (
    _BUFFER,
    _RESERVED,
    _TRAILING_FORMAT,
    _AuthFailed,
    _content_type,
    _decompress,
    _Encoder,
    _encoding,
    _Error,
    _multipart,
    _split_query,
    _truthy,
)


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


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, state: _State) -> None:
        super().__init__((host, 0), _Handler)
        self.state = state

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client hanging up is normal
            super().handle_error(request, client_address)
