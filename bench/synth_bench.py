"""Synthetic traffic benchmark: generate N labelled requests into the embedded store.

    python bench/synth_bench.py [--requests 10000000] [--days 2] [--chunk-rows 500000]

Three phases, each in its own subprocess so that each peak RSS is its own:

* ``generate``: ``generate_traffic`` alone, chunks discarded (the generator's cost, in the
  dictionary-encoded form ``write_traffic`` inserts; ``generate_plain``, not run by default,
  measures the plain-string tables ``generate_traffic`` returns by default);
* ``parquet``: the same chunks written to a Parquet file with pyarrow (baseline: what
  persisting the rows costs without a database);
* ``store``: ``write_traffic`` into a fresh embedded chDB store (the real thing: the
  generator overlapped with the inserts), then a row count read back.

Prints seconds, rows/s and peak RSS per phase, and the ratios store/parquet and
store/generate. ``--out FILE`` also writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(phase: str, requests: int, days: float, chunk_rows: int, seed: int, folder: str) -> dict:
    """Run one phase in this process and return its figures."""
    import pyarrow.parquet as pq

    from workbench.synth import generate_traffic, write_traffic

    rss_before = _peak_rss_mb()
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    rows = 0
    if phase in ("generate", "generate_plain"):
        dictionaries = phase == "generate"  # what write_traffic inserts; plain: what users get
        for table in generate_traffic(
            requests, days=days, seed=seed, chunk_rows=chunk_rows, dictionaries=dictionaries
        ):
            rows += table.num_rows
    elif phase == "parquet":
        writer = None
        path = Path(folder) / "traffic.parquet"
        for table in generate_traffic(
            requests, days=days, seed=seed, chunk_rows=chunk_rows, dictionaries=True
        ):
            writer = writer or pq.ParquetWriter(path, table.schema, compression="zstd")
            writer.write_table(table)
            rows += table.num_rows
        if writer:
            writer.close()
    elif phase == "store":
        from workbench.store import connect

        store = connect(str(Path(folder) / "warehouse"))
        rows = write_traffic(
            store, requests, days=days, seed=seed, chunk_rows=chunk_rows, progress=False
        )
        seconds = time.perf_counter() - t0
        counted = int(store.query_df("SELECT count() AS n FROM http_requests")["n"][0])
        if counted != rows:
            raise SystemExit(f"store holds {counted} rows, expected {rows}")
        return {"phase": phase, "rows": rows, "seconds": seconds, "cpu_s": time.process_time() - cpu0,
                "peak_rss_mb": _peak_rss_mb(), "rss_before_mb": rss_before}  # fmt: skip
    else:
        raise SystemExit(f"unknown phase {phase}")
    return {"phase": phase, "rows": rows, "seconds": time.perf_counter() - t0,
            "cpu_s": time.process_time() - cpu0, "peak_rss_mb": _peak_rss_mb(),
            "rss_before_mb": rss_before}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000_000)
    parser.add_argument("--days", type=float, default=2.0)
    parser.add_argument("--chunk-rows", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--phases", default="generate,parquet,store")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = child(
            args.child, args.requests, args.days, args.chunk_rows, args.seed, args.folder
        )
        print(json.dumps(result))
        return
    results = {}
    load = os.getloadavg()[0]
    print(f"synth bench: {args.requests:,} requests, {args.days} days, chunks of {args.chunk_rows:,}, "
          f"{os.cpu_count()} CPUs, load average {load:.1f} at start")  # fmt: skip
    for phase in args.phases.split(","):
        with tempfile.TemporaryDirectory(prefix="synth-bench-") as folder:
            cmd = [sys.executable, __file__, "--child", phase, "--folder", folder,
                   "--requests", str(args.requests), "--days", str(args.days),
                   "--chunk-rows", str(args.chunk_rows), "--seed", str(args.seed)]  # fmt: skip
            out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=REPO)
            res = json.loads(out.stdout.strip().splitlines()[-1])
            if phase == "parquet":
                res["file_mb"] = (
                    sum(p.stat().st_size for p in Path(folder).glob("*.parquet")) / 2**20
                )
        results[phase] = res
        extra = f", file {res['file_mb']:.0f} MiB" if "file_mb" in res else ""
        print(f"  {phase:14s} {res['seconds']:8.1f} s  {res['rows'] / res['seconds']:>12,.0f} rows/s  "
              f"cpu {res['cpu_s']:6.1f} s  peak RSS {res['peak_rss_mb']:6.0f} MiB{extra}")  # fmt: skip
    if "store" in results and "parquet" in results:
        print(
            f"  store / parquet  = {results['store']['seconds'] / results['parquet']['seconds']:.2f}x"
        )
    if "store" in results and "generate" in results:
        print(
            f"  store / generate = {results['store']['seconds'] / results['generate']['seconds']:.2f}x"
        )
    if "store" in results:
        verdict = "PASS" if results["store"]["seconds"] < 120 else "FAIL"
        print(
            f"  target: {args.requests:,} requests into the embedded store in < 120 s: "
            f"{results['store']['seconds']:.1f} s ({verdict}; 10M target applies at --requests 10000000)"
        )
    print(f"  load average at end {os.getloadavg()[0]:.1f}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
