"""Labelled synthetic HTTP traffic: ``generate_traffic`` (Arrow chunks) and ``write_traffic``.

The dataset is planned as sessions up front (:mod:`workbench.synth.plan`), generated in
blocks of whole sessions with vectorized code, and handed out re-cut to ``chunk_rows``
rows, so memory stays bounded by a chunk and a block and the rows are the same whatever
the chunk size. The same seed always gives the same rows.
"""

from __future__ import annotations

import math
import queue
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
from tqdm import tqdm

from workbench.errors import InputError
from workbench.synth.bots import abuse_api, crawl, flood, scrape, stuff_credentials
from workbench.synth.browse import browse
from workbench.synth.campaigns import (
    API_ABUSE,
    CRAWLER,
    FLOOD,
    HEADLESS,
    HUMAN,
    PROXY,
    SCANNER,
    SCRAPER,
    STUFFING,
)  # fmt: skip
from workbench.synth.columns import PLAIN_SCHEMA, SCHEMA, build_table
from workbench.synth.plan import Plan, make_plan
from workbench.synth.scanners import scan
from workbench.synth.sessions import Block, concat_rows

#: Default window start: 2026-11-01 00:00 UTC.
DEFAULT_START = datetime(2026, 11, 1, tzinfo=UTC)
#: Table the traffic goes to.
TABLE = "http_requests"
_GENERATORS = (
    ((HUMAN, HEADLESS, PROXY), browse), ((CRAWLER,), crawl), ((SCRAPER,), scrape),
    ((STUFFING,), stuff_credentials), ((API_ABUSE,), abuse_api), ((FLOOD,), flood),
    ((SCANNER,), scan),
)  # fmt: skip


def _check(n_requests: int, days: float, seed: int, chunk_rows: int, start: datetime) -> int:
    if (
        isinstance(n_requests, bool)
        or not isinstance(n_requests, int | np.integer)
        or n_requests < 0
    ):
        raise InputError(f"n_requests must be a non-negative integer, got {n_requests!r}")
    if not isinstance(days, int | float) or not math.isfinite(days) or days <= 0 or days > 366:
        raise InputError(f"days must be a number in (0, 366], got {days!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    if (
        isinstance(chunk_rows, bool)
        or not isinstance(chunk_rows, int | np.integer)
        or chunk_rows <= 0
    ):
        raise InputError(f"chunk_rows must be a positive integer, got {chunk_rows!r}")
    if not isinstance(start, datetime):
        raise InputError(f"start must be a datetime, got {type(start).__name__}")
    if start.tzinfo is None:
        raise InputError(
            "start must be timezone-aware (UTC), e.g. datetime(2026, 11, 1, tzinfo=UTC)"
        )
    return int(start.timestamp() * 1000)


def source_of(seed: int) -> str:
    """Return the ``Source`` value of the rows generated with ``seed``.

    Parameters
    ----------
    seed : int
        The seed.

    Returns
    -------
    str
        ``synth:traffic:seed=<seed>``.
    """
    return f"synth:traffic:seed={int(seed)}"


def parse_start(text: str) -> datetime:
    """Parse a window start such as ``2026-11-01``, ``2026-11-01T06:00Z`` (UTC if no zone).

    Parameters
    ----------
    text : str
        ISO 8601 date or date-time.

    Returns
    -------
    datetime
        Timezone-aware start.

    Raises
    ------
    InputError
        When the text is not an ISO 8601 date or date-time.
    """
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"start {text[:40]!r} is not an ISO date or date-time (2026-11-01T00:00Z)"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def generate_block(plan: Plan, index: int, seed: int) -> pa.Table:
    """Generate the requests of one block of the plan.

    Parameters
    ----------
    plan : Plan
        The dataset plan.
    index : int
        Block number.
    seed : int
        Dataset seed.

    Returns
    -------
    pyarrow.Table
        The block's requests.
    """
    b = Block(plan, index, seed)
    parts = []
    for families, generate in _GENERATORS:
        sess = np.flatnonzero(np.isin(b.family, families))
        if len(sess):
            parts.append(generate(b, sess))
    if not parts:
        return SCHEMA.empty_table()
    return build_table(b, concat_rows(parts), seed)


def generate_traffic(
    n_requests: int,
    days: float = 2.0,
    seed: int = 0,
    start: datetime = DEFAULT_START,
    chunk_rows: int = 500_000,
    mix: dict[str, float] | None = None,
    dictionaries: bool = False,
) -> Iterator[pa.Table]:
    """Generate labelled synthetic ``http_requests`` rows, chunk by chunk.

    Parameters
    ----------
    n_requests : int
        Total requests.
    days : float, default 2
        Length of the time window in days.
    seed : int, default 0
        Seed; the same arguments always give the same rows (whatever ``chunk_rows``).
    start : datetime, default 2026-11-01 00:00 UTC
        Start of the window (timezone-aware).
    chunk_rows : int, default 500000
        Rows per yielded table (the last one may be shorter).
    mix : dict, optional
        Share of requests per actor family (see ``workbench.synth.DEFAULT_MIX``).
    dictionaries : bool, default False
        Keep low-cardinality string columns (user agent, JA4, country, labels ...)
        dictionary-encoded, as generated: much cheaper to build and to insert (ClickHouse
        reads them into ``String`` columns alike), but pyarrow string kernels need a cast.
        By default they are plain strings, as the table declares them.

    Returns
    -------
    iterator of pyarrow.Table
        Tables with the columns of ``http_requests`` in table order (ground truth in
        ``label``, ``actor``, ``campaign``, ``attack_class``).

    Raises
    ------
    InputError
        When an argument is out of range.
    """
    start_ms = _check(n_requests, days, seed, chunk_rows, start)
    plan = make_plan(int(n_requests), float(days), int(seed), start_ms, mix)
    chunks = _chunks(plan, int(seed), int(chunk_rows))
    return chunks if dictionaries else (t.cast(PLAIN_SCHEMA) for t in chunks)


def _chunks(plan: Plan, seed: int, chunk_rows: int) -> Iterator[pa.Table]:
    """Generate the plan's blocks and re-cut them into tables of ``chunk_rows`` rows."""
    pending: list[pa.Table] = []
    held = 0
    for index in range(plan.n_blocks):
        table = generate_block(plan, index, seed)
        pending.append(table)
        held += table.num_rows
        while held >= chunk_rows:
            joined = pa.concat_tables(pending)
            yield joined.slice(0, chunk_rows)
            rest = joined.slice(chunk_rows)
            pending, held = [rest], rest.num_rows
    if held:
        yield pa.concat_tables(pending)


def write_traffic(
    store,
    n_requests: int,
    days: float = 2.0,
    seed: int = 0,
    start: datetime = DEFAULT_START,
    chunk_rows: int = 500_000,
    mix: dict[str, float] | None = None,
    replace: bool = True,
    progress: bool = True,
) -> int:
    """Generate synthetic traffic and insert it into ``http_requests``.

    Generation of the next chunk overlaps with the insert of the current one (one chunk
    ahead at most, so memory stays bounded).

    Parameters
    ----------
    store : Store
        Target store (``workbench.store.connect()``).
    n_requests : int
        Total requests.
    days, seed, start, chunk_rows, mix
        As for :func:`generate_traffic`.
    replace : bool, default True
        First delete the rows an earlier run with this seed wrote (same ``Source``), so
        re-running does not duplicate them.
    progress : bool, default True
        Show a progress bar on stderr.

    Returns
    -------
    int
        Rows inserted.

    Raises
    ------
    InputError
        When an argument is out of range.
    StoreError
        When the store rejects the delete or an insert.
    """
    chunks = generate_traffic(n_requests, days, seed, start, chunk_rows, mix, dictionaries=True)
    if replace:
        store.mutate(
            TABLE,
            "DELETE WHERE Source = {source:String}",
            parameters={"source": source_of(seed)},
            settings={"mutations_sync": 2},
        )
    ahead: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for chunk in chunks:
                while not stop.is_set():
                    try:
                        ahead.put(chunk, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ahead.put(done)
        except BaseException as exc:  # handed to the consumer, raised there
            ahead.put(exc)

    worker = threading.Thread(target=produce, name="synth-traffic", daemon=True)
    worker.start()
    total = 0
    try:
        with tqdm(total=n_requests, unit="req", unit_scale=True, file=sys.stderr,
                  disable=not progress, desc="synth traffic") as bar:  # fmt: skip
            while (item := ahead.get()) is not done:
                if isinstance(item, BaseException):
                    raise item
                total += store.insert_arrow(TABLE, item)
                bar.update(item.num_rows)
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting to hand over a chunk
            try:
                ahead.get(timeout=0.1)
            except queue.Empty:
                pass
        worker.join()
    return total
