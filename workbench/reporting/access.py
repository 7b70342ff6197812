"""Store access for report kernels: short-lived, and one process at a time on an embedded store.

chDB lets one process at a time open a data folder (measured: a second process fails with
``Cannot lock file .../status. Another server instance in same directory is already running``
until the first closes every session, after which it opens in ~0.05 s). A report kernel is a
process of its own, and ``wb report due --workers N`` runs several kernels at once, so:

- report code opens the store only inside :func:`report_store`, for as long as its queries
  take, and closes it at once;
- on the embedded store, :func:`report_store` first takes an exclusive lock file in the data
  folder, so kernels queue for the folder for a second or two instead of failing, while
  everything else they do (start-up, figures, rendering) runs in parallel;
- a process outside this protocol (a JupyterLab kernel holding a store open) makes the open
  fail; it is retried until ``wait_s`` runs out, then a clear error names the folder.

A server store (``WB_CLICKHOUSE_URL``) takes no lock: many kernels query it at once.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

from workbench.config import settings
from workbench.errors import ReportError, StoreError
from workbench.reporting.locks import file_lock
from workbench.store import Store, connect

#: Lock file inside an embedded data folder, held while a report process has it open.
LOCK_NAME = ".wb-report-store.lock"


def embedded_folder_in_use_here(folder: Path) -> bool:
    """Say whether this process has embedded stores open on ``folder``.

    Parameters
    ----------
    folder : Path
        An embedded data folder.

    Returns
    -------
    bool
        True when a report kernel (another process) could not open ``folder`` now.
    """
    from workbench.store.embedded import open_folder

    held = open_folder()
    return held is not None and held == Path(folder).resolve()


def _open_embedded(deadline: float, folder: Path) -> Store:
    delay = 0.1
    while True:
        try:
            return connect()
        except (RuntimeError, StoreError) as exc:
            text = str(exc)
            busy = "EmbeddedServer" in text or "lock" in text.lower()
            if not busy or time.monotonic() >= deadline:
                if busy:
                    raise ReportError(
                        f"the embedded store {folder} is held by another process (a JupyterLab "
                        "kernel or a script with an open store?); close it, or use a server "
                        "store (WB_CLICKHOUSE_URL) for concurrent use"
                    ) from None
                raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


@contextlib.contextmanager
def report_store(wait_s: float = 300.0) -> Iterator[Store]:
    """Open the configured store for a report's queries and close it afterwards.

    Parameters
    ----------
    wait_s : float, default 300
        How long to wait for other report processes (embedded store) before giving up.

    Yields
    ------
    Store
        The store; do not keep it past the ``with`` block.

    Raises
    ------
    ReportError
        When the embedded folder stays locked or held by another process for ``wait_s``.
    """
    cfg = settings()
    if cfg.clickhouse_url:
        store = connect()
        try:
            yield store
        finally:
            store.close()
        return
    folder = cfg.data_dir
    folder.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_s
    with file_lock(folder / LOCK_NAME, wait_s, f"report lock of the embedded store {folder}"):
        store = _open_embedded(deadline, folder)
        try:
            yield store
        finally:
            store.close()
