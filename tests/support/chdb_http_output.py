"""Response bodies of the chDB-backed ClickHouse HTTP interface.

:class:`_Output` holds back the first 1 MiB (or spools the whole result), then sends the body
chunked, compressed as negotiated, and frames a late error in the body as ClickHouse does;
:class:`_ArrowReframer` joins chDB's per-block ArrowStream outputs into one stream or file.
"""

from __future__ import annotations

import io
import json
import tempfile
import time
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from tests.support.chdb_http_protocol import _ARROW_EOS, _BUFFER, _STATUS, _Encoder, _Error

if TYPE_CHECKING:
    from tests.support.chdb_http_handler import _Handler


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
