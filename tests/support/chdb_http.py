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

This module holds the two servers and the child's entry point (``python -m
tests.support.chdb_http``); the pieces live next to it: ``chdb_http_protocol`` (error shapes,
parameters, body decoding, compression), ``chdb_http_output`` (response bodies),
``chdb_http_engine`` (chDB connections, sessions, queries, inserts) and ``chdb_http_handler``
(the request handler and HTTP server).
"""

from __future__ import annotations

import argparse
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
from typing import Any

from chdb.session import Session

from tests.support.chdb_http_engine import _State
from tests.support.chdb_http_handler import _Server
from workbench.errors import StoreError


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
        command = [sys.executable, "-m", "tests.support.chdb_http", "--user", self.user]
        command += ["--data-path", self.data_path] if self.data_path else []
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "CHDB_HTTP_PASSWORD": self.password, "PYTHONPATH": path}
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
