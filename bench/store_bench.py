"""Store benchmark: query to Arrow / pandas on both backends against reading Parquet, and the
peak memory of streaming the whole table against loading it at once.

    python bench/store_bench.py [--rows 5000000] [--out bench/out/store.json]

The server backend is clickhouse-connect over real HTTP to the chDB-backed ClickHouse HTTP
interface of ``tests/support`` running in its own process (no ClickHouse server can be
installed on these machines), so its figures include the HTTP round trip, compression and the
Arrow wire format, with the server's work on the same 2 cores.
Each memory figure comes from its own subprocess (peak RSS sampled every 5 ms during the
query, minus RSS before it), so one measurement's peak cannot hide in another's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

COLUMNS = (
    "RayID, EdgeStartTimestamp, ClientIP, ClientASN, ClientCountry, ClientRequestMethod, "
    "ClientRequestHost, ClientRequestPath, ClientRequestUserAgent, JA4, EdgeResponseStatus, "
    "EdgeResponseBytes, BotScore"
)
SELECT = f"SELECT {COLUMNS} FROM http_requests"  # noqa: S608 - fixed column list
USER, PASSWORD = "bench", "bench-only-password"


def make_rows(start: int, n: int, seed: int = 7) -> pa.Table:
    """Request-like rows with realistic cardinalities (vectorized)."""
    rng = np.random.default_rng(seed + start)
    idx = np.arange(start, start + n)
    ips = rng.integers(0, 200_000, n)
    agents = np.array(
        [
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari/605.1.15",
            "python-requests/2.32.3",
            "curl/8.5.0",
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        ]
    )
    paths = np.char.add("/products/", rng.integers(0, 5000, n).astype(str))
    return pa.table(
        {
            "RayID": pa.array(np.char.add("8f", idx.astype("U14"))),
            "EdgeStartTimestamp": pa.array(
                (np.datetime64("2026-11-01T00:00:00", "ms") + (idx * 35).astype("timedelta64[ms]")),
                pa.timestamp("ms", tz="UTC"),
            ),
            "ClientIP": pa.array(
                np.char.add(
                    np.char.add("10.", (ips // 65536).astype(str)),
                    np.char.add(".", (ips % 65536 // 256).astype(str)),
                )
            ),
            "ClientASN": pa.array(rng.integers(1000, 1200, n).astype(np.uint32)),
            "ClientCountry": pa.array(
                np.array(["US", "DE", "BR", "IN", "FR"])[rng.integers(0, 5, n)]
            ),
            "ClientRequestMethod": pa.array(
                np.array(["GET", "POST"])[(rng.random(n) < 0.1).astype(int)]
            ),
            "ClientRequestHost": pa.array(
                np.array(["shop.example", "api.example"])[rng.integers(0, 2, n)]
            ),
            "ClientRequestPath": pa.array(paths),
            "ClientRequestUserAgent": pa.array(agents[rng.integers(0, len(agents), n)]),
            "JA4": pa.array(np.char.add("t13d1516h2_", rng.integers(0, 300, n).astype(str))),
            "EdgeResponseStatus": pa.array(
                np.array([200, 200, 200, 304, 404, 403])[rng.integers(0, 6, n)].astype(np.uint16)
            ),
            "EdgeResponseBytes": pa.array(rng.integers(200, 90_000, n).astype(np.uint64)),
            "BotScore": pa.array(rng.integers(1, 100, n).astype(np.uint8)),
        }
    )


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def measure_memory(args: argparse.Namespace) -> None:
    """Child process: one memory measurement, printed as JSON."""
    from workbench.store import EmbeddedStore, ServerStore

    if args.backend == "embedded":
        store = EmbeddedStore(args.data_dir)
    else:
        store = ServerStore(args.url, password=PASSWORD, user=USER)
    store.query_df("SELECT 1")  # warm the connection
    before = rss_mb()
    peak = [before]
    done = threading.Event()

    def sample() -> None:  # ru_maxrss would include peaks from imports, so sample instead
        while not done.wait(0.005):
            peak[0] = max(peak[0], rss_mb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    rows = 0
    started = time.perf_counter()
    if args.measure == "stream":
        with store.query_arrow_stream(SELECT) as batches:
            for batch in batches:
                rows += batch.num_rows
    else:
        frame = store.query_df(SELECT)
        rows = len(frame)
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    peak[0] = max(peak[0], rss_mb())
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_mb": peak[0] - before}))


def child(measure: str, backend: str, data_dir: str, url: str) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            "--measure",
            measure,
            "--backend",
            backend,
            "--data-dir",
            data_dir,
            "--url",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def timed(fn, repeat: int = 2) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--chunk", type=int, default=500_000)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "store.json")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--measure", choices=["stream", "full"])
    parser.add_argument("--backend", choices=["embedded", "server"])
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--url", default="")
    args = parser.parse_args()
    if args.child:
        measure_memory(args)
        return

    from tests.support.chdb_http import ChdbHttpServerProcess
    from workbench.store import EmbeddedStore, ServerStore, apply_schema

    work = Path(tempfile.mkdtemp(prefix="wb-store-bench-"))
    parquet = work / "rows.parquet"
    embedded_dir = work / "embedded"
    server = ChdbHttpServerProcess(str(work / "server"), user=USER, password=PASSWORD)
    server.start()
    embedded = EmbeddedStore(embedded_dir)
    apply_schema(embedded)
    remote = ServerStore(server.url, password=PASSWORD, user=USER)
    apply_schema(remote)

    print(f"loading {args.rows:,} rows ...", file=sys.stderr)
    writer = None
    for start in range(0, args.rows, args.chunk):
        chunk = make_rows(start, min(args.chunk, args.rows - start))
        writer = writer or pq.ParquetWriter(parquet, chunk.schema)
        writer.write_table(chunk)
        embedded.insert_arrow("http_requests", chunk)
        remote.insert_arrow("http_requests", chunk)
    writer.close()
    for store in (embedded, remote):
        store.command("OPTIMIZE TABLE http_requests FINAL")

    n = args.rows
    results: dict[str, dict] = {}
    t, table = timed(lambda: pq.read_table(parquet))
    results["parquet_arrow"] = {"seconds": t, "rows_per_s": n / t}
    t, _ = timed(lambda: pq.read_table(parquet).to_pandas())
    results["parquet_pandas"] = {"seconds": t, "rows_per_s": n / t}
    del table
    for name, store in (("embedded", embedded), ("server", remote)):
        t, got = timed(lambda s=store: s.query_arrow(SELECT))
        assert got.num_rows == n, (name, got.num_rows)
        results[f"{name}_arrow"] = {"seconds": t, "rows_per_s": n / t}
        del got
        t, got = timed(lambda s=store: s.query_df(SELECT))
        assert len(got) == n
        results[f"{name}_pandas"] = {"seconds": t, "rows_per_s": n / t}
        del got

    embedded.close()  # the child processes open the folder themselves
    memory = {}
    for backend in ("embedded", "server"):
        for measure in ("full", "stream"):
            memory[f"{backend}_{measure}"] = child(measure, backend, str(embedded_dir), server.url)
            assert memory[f"{backend}_{measure}"]["rows"] == n
    remote.close()
    server.stop()

    lines = [
        f"rows: {n:,}, columns: {len(COLUMNS.split(','))}, machine: {os.cpu_count()} cores",
        "",
        "| read path | rows/s | vs Parquet->Arrow | vs Parquet->pandas |",
        "| --- | ---: | ---: | ---: |",
    ]
    base_a, base_p = results["parquet_arrow"]["rows_per_s"], results["parquet_pandas"]["rows_per_s"]
    for key in (
        "parquet_arrow",
        "parquet_pandas",
        "embedded_arrow",
        "embedded_pandas",
        "server_arrow",
        "server_pandas",
    ):
        r = results[key]["rows_per_s"]
        lines.append(f"| {key} | {r:,.0f} | {r / base_a:.2f}x | {r / base_p:.2f}x |")
    lines += [
        "",
        "| backend | full query_df peak MB | query_arrow_stream peak MB | stream / full |",
        "| --- | ---: | ---: | ---: |",
    ]
    for backend in ("embedded", "server"):
        full, stream = memory[f"{backend}_full"]["peak_mb"], memory[f"{backend}_stream"]["peak_mb"]
        lines.append(f"| {backend} | {full:,.0f} | {stream:,.0f} | {stream / full:.3f} |")
    report = "\n".join(lines)
    print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": n, "throughput": results, "memory": memory}, indent=2))


if __name__ == "__main__":
    main()
