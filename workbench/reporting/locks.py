"""File locks between processes and atomic file writes (POSIX ``flock``).

Several ``wb report`` commands can run at once (a crontab's ``wb report due`` while an analyst
runs a report, or two ``due`` runs overlapping); they share the run ledger, the index and,
for the embedded store, the chDB data folder. Each of those is guarded by a lock file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from workbench.errors import ReportError


@contextlib.contextmanager
def file_lock(path: str | Path, timeout_s: float = 60.0, what: str = "lock") -> Iterator[Path]:
    """Hold an exclusive lock on ``path`` (created if missing) for the ``with`` block.

    The lock belongs to the open file, so it is released when the block ends or the process
    dies; it is never left behind by a crash.

    Parameters
    ----------
    path : str or Path
        The lock file.
    timeout_s : float, default 60
        Give up after waiting this long.
    what : str
        What the lock protects, for the error message.

    Yields
    ------
    Path
        The lock file's path.

    Raises
    ------
    ReportError
        When another process held the lock for ``timeout_s``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        delay = 0.01
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ReportError(
                        f"waited {timeout_s:g} s for the {what} ({path}), which another "
                        "process still holds"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.25)
        try:
            yield path
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def atomic_write(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half.

    Parameters
    ----------
    path : str or Path
        Destination; its folder is created if missing.
    data : str or bytes
        Content (text is written as UTF-8).

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path
