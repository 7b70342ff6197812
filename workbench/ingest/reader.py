r"""Reading input files as a stream of numbered lines with bounded memory.

Files are read as bytes (gzip is detected by its header, whatever the file is called),
split on ``\n`` only and decoded as UTF-8 with replacement characters for invalid bytes, so
every byte of the input ends up in some line and a bad byte never stops a load. A line
longer than :data:`MAX_LINE_BYTES` is not held in memory: its first 64 KiB are kept and it
is flagged ``cut`` so that the loader quarantines it.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, NamedTuple

from workbench.errors import InputError
from workbench.ingest.common import RAW_LIMIT

#: Lines longer than this (in bytes) are quarantined instead of parsed.
MAX_LINE_BYTES = 16 * 2**20
_GZIP_MAGIC = b"\x1f\x8b\x08"  # magic number and the deflate method; flags follow
_BOM = "\ufeff"
_BLOCK = 2**20


class Line(NamedTuple):
    r"""One line of input.

    Attributes
    ----------
    number : int
        1-based line number.
    text : str
        The decoded line, with its ``\n`` or ``\r\n`` terminator (the last line of a
        file may have none).
    cut : bool
        True when the line was longer than :data:`MAX_LINE_BYTES`; ``text`` then holds
        only its first 64 KiB.
    nbytes : int
        Bytes the line took in the (decompressed) input.
    """

    number: int
    text: str
    cut: bool
    nbytes: int


class Fingerprint(NamedTuple):
    """Identity of a file's content.

    Attributes
    ----------
    sha256 : str
        Hex SHA-256 of the decompressed content (a ``.gz`` copy has the same one).
    size : int
        Decompressed size in bytes.
    compressed : bool
        Whether the file is gzip-compressed.
    """

    sha256: str
    size: int
    compressed: bool


def open_input(path: str | Path) -> IO[bytes]:
    """Open a file for binary reading, transparently decompressing gzip.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    IO[bytes]
        A readable binary stream of the (decompressed) content.

    Raises
    ------
    InputError
        When the file does not exist, is not a regular file or cannot be read.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file")
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot open ({exc.strerror or exc})") from None
    head = raw.peek(4)[:4]
    if len(head) < 4 or head[:3] != _GZIP_MAGIC or head[3] & 0xE0:
        return raw
    raw.close()
    return gzip.open(path, "rb")  # type: ignore[return-value]


def is_gzip(path: str | Path) -> bool:
    """Tell whether a file starts with the gzip magic number.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    bool
        True for gzip data, whatever the file name.
    """
    with open_input(path) as stream:
        return isinstance(stream, gzip.GzipFile)


def fingerprint(path: str | Path, progress: Callable[[int], None] | None = None) -> Fingerprint:
    """Hash a file's decompressed content.

    Parameters
    ----------
    path : str or Path
        The file.
    progress : callable, optional
        Called with the number of bytes read after each block.

    Returns
    -------
    Fingerprint
        SHA-256, size and compression of the content.

    Raises
    ------
    InputError
        When the file cannot be read or its gzip stream is corrupt or truncated.
    """
    digest = hashlib.sha256()
    size = 0
    with open_input(path) as stream:
        compressed = isinstance(stream, gzip.GzipFile)
        try:
            while block := stream.read(_BLOCK):
                digest.update(block)
                size += len(block)
                if progress is not None:
                    progress(len(block))
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{path}: corrupt or truncated gzip data ({exc})") from None
    return Fingerprint(digest.hexdigest(), size, compressed)


def read_lines(stream: IO[bytes], max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[Line]:
    """Yield the numbered lines of a binary stream, holding at most one line in memory.

    Parameters
    ----------
    stream : IO[bytes]
        Binary input (see :func:`open_input`).
    max_line_bytes : int, default MAX_LINE_BYTES
        Longer lines are yielded with ``cut=True`` and only their first 64 KiB.

    Yields
    ------
    Line
        Every line, in order, including empty ones; a final line without a terminator too.

    Raises
    ------
    InputError
        When the gzip stream turns out corrupt while reading.
    """
    number = 0
    try:
        while True:
            data = stream.readline(max_line_bytes + 1)
            if not data:
                return
            number += 1
            nbytes = len(data)
            cut = False
            if nbytes > max_line_bytes and not data.endswith(b"\n"):
                cut = True
                head = data[:RAW_LIMIT]
                while True:  # consume the rest of the line, a block at a time
                    more = stream.readline(_BLOCK)
                    nbytes += len(more)
                    if not more or more.endswith(b"\n"):
                        break
                data = head
            text = data.decode("utf-8", "replace")
            if number == 1 and text.startswith(_BOM):
                text = text[1:]
            yield Line(number, text, cut, nbytes)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise InputError(f"corrupt or truncated gzip data after line {number} ({exc})") from None
