"""Entity-feature benchmark: ClickHouse (embedded chDB) against pandas groupby.

    python bench/features_bench.py --requests 2000000 10000000 \\
        [--source synth fixed] [--ips 200000] [--data-dir DIR] [--readme]

For each source and size, an embedded store is filled with synthetic requests over one UTC
day: ``synth`` uses ``workbench.synth.generate_traffic`` (the IP count grows with the
requests), ``fixed`` the vectorized generator below with a fixed IP population (heavy-tailed
requests per IP; humans, crawlers, scrapers, spoofers and credential stuffers with their own
user agents, JA4s, paths, statuses and header sets). Then, each in its OWN subprocess so
their peaks cannot mix:

* ``sql``: ``build_entity_features(store, "ip", start, end)``: every IP feature, one query,
  result as a pandas DataFrame;
* ``pandas``: load the same rows into pandas with ``store.query_df`` (the columns the
  features need; ``length(RequestHeaders)`` instead of the header maps), then compute the
  same features with the pandas reference (``tests/features/reference.py``: vectorized
  groupby, the definitions the parity tests check).

Reported: wall and CPU time, peak RSS of the whole process (``ru_maxrss``) and RSS growth
over the step. End to end for pandas is load + compute. Ratios are computed within the run.
Stores are kept (and reused) under ``--data-dir`` when given, else made in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DAY_MS = 86_400_000
CHUNK = 1_000_000
LOAD_COLUMNS = (
    "EdgeStartTimestamp, ClientIP, ClientASN, ClientCountry, ClientRequestMethod, "
    "ClientRequestHost, ClientRequestPath, ClientRequestQuery, ClientRequestUserAgent, "
    "ClientRequestReferer, ClientRequestBytes, JA3Hash, JA4, EdgeResponseStatus, "
    "EdgeResponseBytes, length(RequestHeaders) AS header_count"
)

# ---------------------------------------------------------------------------------------
# synthetic traffic
# ---------------------------------------------------------------------------------------
HUMAN, CRAWLER, SCRAPER, SPOOFER, STUFFER = range(5)
KIND_P = np.array([0.80, 0.04, 0.08, 0.05, 0.03])
HEADER_NAMES = pa.array(
    ["host", "user-agent", "accept", "accept-language", "accept-encoding", "referer",
     "cookie", "sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform", "sec-fetch-site",
     "sec-fetch-mode", "sec-fetch-dest", "upgrade-insecure-requests"]
)  # fmt: skip
HEADER_VALUES = pa.array(["text/html", "en-US,en;q=0.9", "gzip, br", "?0", "same-origin", "1"])


def _strings(prefix: str, values: np.ndarray, suffix: str = "") -> pa.Array:
    return pc.binary_join_element_wise(
        pa.scalar(prefix), pa.array(values).cast(pa.string()), pa.scalar(suffix), ""
    )


def _hex(values: np.ndarray) -> pa.Array:
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    shifts = np.arange(60, -4, -4, dtype=np.uint64)
    nibbles = (values.astype(np.uint64)[:, None] >> shifts) & np.uint64(15)
    raw = digits[nibbles.astype(np.intp)]
    return pa.array(raw.view("S16").ravel()).cast(pa.string())


class Traffic:
    """Entities and their habits, fixed by the seed; rows are drawn chunk by chunk."""

    def __init__(self, ips: int, seed: int = 7) -> None:
        rng = np.random.default_rng(seed)
        self.ips = ips
        self.seed = seed
        self.weights = rng.pareto(1.1, ips) + 0.05  # heavy tail of requests per IP
        self.weights /= self.weights.sum()
        self.kind = rng.choice(5, size=ips, p=KIND_P)
        a, b = rng.integers(1, 223, ips), rng.integers(0, 256, (ips, 3))
        self.ip_names = pc.binary_join_element_wise(
            *(pa.array(x).cast(pa.string()) for x in (a, b[:, 0], b[:, 1], b[:, 2])), "."
        )
        self.asn = (rng.zipf(1.3, ips) % 8000 + 1000).astype(np.uint32)
        countries = np.array(
            "US DE FR GB BR IN CN RU NL JP KR CA AU ES IT PL SE SG VN ID TR MX AR ZA".split()
        )
        self.country = countries[self.asn % len(countries)]
        # user agents: browsers (family, version, OS), libraries, crawlers
        versions = rng.integers(110, 132, ips).astype(str)
        os_names = np.array(["Windows NT 10.0; Win64; x64", "Macintosh; Intel Mac OS X 10_15_7",
                             "X11; Linux x86_64", "Linux; Android 14"])  # fmt: skip
        osv = os_names[rng.integers(0, 4, ips)]
        family = rng.choice(4, size=ips, p=[0.65, 0.12, 0.15, 0.08])  # chrome ff safari edge
        browser = np.where(
            family == 0, np.char.add(np.char.add("AppleWebKit/537.36 Chrome/", versions), ".0 Safari/537.36"),
            np.where(family == 1, np.char.add(np.char.add("Gecko/20100101 Firefox/", versions), ".0"),
                     np.where(family == 2, "AppleWebKit/605.1.15 Version/17.4 Safari/605.1.15",
                              np.char.add(np.char.add("AppleWebKit/537.36 Chrome/", versions),
                                          ".0 Safari/537.36 Edg/124.0"))))  # fmt: skip
        ua = np.char.add(np.char.add(np.char.add("Mozilla/5.0 (", osv), ") "), browser)
        libs = np.array(["python-requests/2.31.0", "curl/8.5.0", "Go-http-client/2.0",
                         "okhttp/4.12.0", "Scrapy/2.11 (+https://scrapy.org)", ""])  # fmt: skip
        bots = np.array(["Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
                         "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"])  # fmt: skip
        ua = np.where(self.kind == CRAWLER, bots[rng.integers(0, 2, ips)], ua)
        ua = np.where(self.kind == SCRAPER, libs[rng.integers(0, len(libs), ips)], ua)
        self.ua = pa.array(ua)
        # TLS: browsers share a fingerprint per family and version; tools their own stack
        stack = np.where(np.isin(self.kind, (HUMAN, CRAWLER)), family * 40 + versions.astype(int) % 40,
                         200 + rng.integers(0, 60, ips))  # fmt: skip
        stack = np.where(self.kind == CRAWLER, 300 + rng.integers(0, 3, ips), stack)
        self.ja4 = pc.binary_join_element_wise(
            pa.scalar("t13d"), _hex(stack * 7919 + 17).cast(pa.string()), ""
        )
        self.ja3 = _hex(stack * 104729 + 3)
        self.center = rng.integers(0, DAY_MS, ips)
        spread = np.where(
            self.kind == HUMAN, rng.exponential(3_600_000, ips), rng.exponential(600_000, ips)
        )
        self.spread = spread + 1000
        self.is_bot = ~np.isin(self.kind, (HUMAN,))

    def chunk(self, index: int, n: int) -> pa.Table:
        """Rows ``index * CHUNK ...``: n requests."""
        rng = np.random.default_rng([self.seed, index])
        ip = rng.choice(self.ips, size=n, p=self.weights)
        kind = self.kind[ip]
        human = kind == HUMAN
        t = (self.center[ip] + rng.normal(0, 1, n) * self.spread[ip]).astype(np.int64) % DAY_MS
        ts = pa.array(np.datetime64("2024-05-01", "ms") + t.astype("timedelta64[ms]"),
                      pa.timestamp("ms", tz="UTC"))  # fmt: skip
        asset = human & (rng.random(n) < 0.45)
        ext = np.array(["js", "css", "png", "jpg", "woff2", "svg", "webp", "ico"])
        page_id = np.where(human, rng.zipf(1.4, n) % 20_000, rng.integers(0, 500_000, n))
        path = pc.if_else(
            pa.array(asset),
            pc.binary_join_element_wise(_strings("/static/", rng.integers(0, 3000, n)),
                                        pa.array(ext[rng.integers(0, len(ext), n)]), "."),
            _strings("/products/", page_id),
        )  # fmt: skip
        login = (kind == STUFFER) & (rng.random(n) < 0.8)
        path = pc.if_else(pa.array(login), pa.scalar("/api/auth/login"), path)
        method = np.where(login, "POST", np.where(rng.random(n) < 0.03, "POST", "GET"))
        status = np.where(
            login, rng.choice([200, 401, 403, 429], n, p=[0.05, 0.7, 0.1, 0.15]),
            np.where(asset & (rng.random(n) < 0.3), 304,
                     np.where(rng.random(n) < np.where(human, 0.02, 0.2), 404, 200)),
        ).astype(np.uint16)  # fmt: skip
        query = pc.if_else(pa.array(rng.random(n) < 0.25),
                           _strings("q=", rng.integers(0, 10_000, n), "&page=2"), pa.scalar(""))  # fmt: skip
        referer = pc.if_else(pa.array(human & (rng.random(n) < 0.7)),
                             _strings("https://shop.example/products/", rng.integers(0, 1000, n)),
                             pa.scalar(""))  # fmt: skip
        ua = self.ua.take(pa.array(ip))
        nat = rng.random(n) < 0.02  # some rows come from other software on the same IP
        ua = pc.if_else(pa.array(nat), self.ua.take(pa.array(rng.integers(0, self.ips, n))), ua)
        hcount = np.where(human, rng.integers(9, 15, n), rng.integers(2, 7, n))
        offsets = np.concatenate([[0], np.cumsum(hcount)]).astype(np.int32)
        within = np.arange(offsets[-1]) - np.repeat(offsets[:-1], hcount)
        keys = HEADER_NAMES.take(pa.array(within))
        values = HEADER_VALUES.take(pa.array(rng.integers(0, len(HEADER_VALUES), offsets[-1])))
        headers = pa.MapArray.from_arrays(pa.array(offsets), keys, values)
        row = np.arange(index * CHUNK, index * CHUNK + n, dtype=np.uint64)
        hosts = np.array([f"www{i}.example" for i in range(30)])
        return pa.table(
            {
                "RayID": _hex(row * np.uint64(0x9E3779B97F4A7C15)),
                "EdgeStartTimestamp": ts,
                "ClientIP": self.ip_names.take(pa.array(ip)),
                "ClientASN": pa.array(self.asn[ip]),
                "ClientCountry": pa.array(self.country[ip]),
                "ClientRequestMethod": pa.array(method),
                "ClientRequestHost": pa.array(hosts[rng.zipf(1.5, n) % 30]),
                "ClientRequestPath": path,
                "ClientRequestQuery": query,
                "ClientRequestUserAgent": ua,
                "ClientRequestReferer": referer,
                "ClientRequestBytes": pa.array(rng.integers(200, 3000, n).astype(np.uint64)),
                "JA3Hash": self.ja3.take(pa.array(ip)),
                "JA4": self.ja4.take(pa.array(ip)),
                "EdgeResponseStatus": pa.array(status),
                "EdgeResponseBytes": pa.array(rng.integers(0, 200_000, n).astype(np.uint64)),
                "RequestHeaders": headers,
            }
        )


# ---------------------------------------------------------------------------------------
# measurements (each in its own subprocess)
# ---------------------------------------------------------------------------------------
def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def _peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child_populate(data_dir: str, requests: int, ips: int, source: str) -> dict:
    from tqdm import tqdm

    from workbench.store import connect

    store = connect(data_dir)
    store.command("TRUNCATE TABLE http_requests")
    t0 = time.perf_counter()
    if source == "synth":
        from workbench.synth import generate_traffic

        chunks = generate_traffic(requests, days=1, seed=7, chunk_rows=CHUNK, dictionaries=True)
    else:
        traffic = Traffic(ips)
        n_chunks = (requests + CHUNK - 1) // CHUNK
        chunks = (traffic.chunk(i, min(CHUNK, requests - i * CHUNK)) for i in range(n_chunks))
    total = (requests + CHUNK - 1) // CHUNK
    for chunk in tqdm(chunks, total=total, desc=f"populate {requests:,}", file=sys.stderr):
        store.insert_arrow("http_requests", chunk)
    inserted = time.perf_counter() - t0
    store.command("OPTIMIZE TABLE http_requests FINAL")
    window = store.run("data_window").iloc[0]
    return {
        "insert_s": inserted,
        "optimize_s": time.perf_counter() - t0 - inserted,
        "rows": int(window["requests"]),
        "distinct_ips": int(window["distinct_ips"]),
        "distinct_ja4": int(window["distinct_ja4"]),
        "disk_bytes": int(
            store.query_df(
                "SELECT sum(bytes_on_disk) AS b FROM system.parts "
                "WHERE active AND database = currentDatabase() AND table = 'http_requests'"
            )["b"].iloc[0]
        ),
    }


def _window(store) -> tuple[str, str]:
    """The whole data window: first timestamp, and just after the last one."""
    import datetime as dt

    row = store.run("data_window").iloc[0]
    first = row["first_request"].to_pydatetime()
    last = row["last_request"].to_pydatetime() + dt.timedelta(milliseconds=1)
    return first, last


def child_sql(data_dir: str) -> dict:
    from workbench.features import build_entity_features
    from workbench.store import connect

    store = connect(data_dir)
    start, end = _window(store)
    before = _rss()
    c0, t0 = time.process_time(), time.perf_counter()
    frame = build_entity_features(store, "ip", start, end)
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "cpu_s": time.process_time() - c0,
        "rows_out": len(frame),
        "rss_before": before,
        "peak": _peak(),
        "result_bytes": int(frame.memory_usage(deep=True).sum()),
        "checksum": float(frame["requests"].sum()),
    }


def child_pandas(data_dir: str) -> dict:
    from tests.features.reference import request_features
    from workbench.store import connect

    store = connect(data_dir)
    start, end = _window(store)
    before = _rss()
    c0, t0 = time.process_time(), time.perf_counter()
    rows = store.query_df(
        f"SELECT {LOAD_COLUMNS} FROM http_requests "  # noqa: S608 - fixed column list
        "WHERE EdgeStartTimestamp >= {s:DateTime64(3, 'UTC')} "
        "AND EdgeStartTimestamp < {e:DateTime64(3, 'UTC')}",
        {"s": start, "e": end},
    )
    load = time.perf_counter() - t0
    loaded_rss = _rss()
    t1 = time.perf_counter()
    frame = request_features(rows, "ip", start, end)
    compute = time.perf_counter() - t1
    return {
        "cpu_s": time.process_time() - c0,
        "load_s": load,
        "compute_s": compute,
        "seconds": load + compute,
        "rows_out": len(frame),
        "rss_before": before,
        "rss_loaded": loaded_rss,
        "frame_bytes": int(rows.memory_usage(deep=True).sum()),
        "peak": _peak(),
        "checksum": float(frame["requests"].sum()),
    }


def run_child(step: str, data_dir: Path, *extra: str) -> dict:
    command = [sys.executable, __file__, "--child", step, "--data-dir", str(data_dir), *extra]
    env = {k: v for k, v in os.environ.items() if not k.startswith("WB_")}
    done = subprocess.run(command, stdout=subprocess.PIPE, env=env, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------------------
def _gb(n: float) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def _best(runs: list[dict]) -> dict:
    """The fastest run's figures, with the highest peak seen in any run."""
    best = dict(min(runs, key=lambda r: r["seconds"]))
    best["peak"] = max(r["peak"] for r in runs)
    best["runs"] = len(runs)
    return best


def bench_size(requests: int, ips: int, source: str, base: Path, repeat: int = 1) -> dict:
    data_dir = base / (f"features_{source}_{requests}" + (f"_{ips}" if source == "fixed" else ""))
    marker = data_dir / "populated.json"
    if marker.exists():
        populate = json.loads(marker.read_text())
    else:
        shutil.rmtree(data_dir, ignore_errors=True)
        populate = run_child(
            "populate", data_dir, "--n", str(requests), "--ips", str(ips), "--source", source
        )
        marker.write_text(json.dumps(populate))
    sql = _best([run_child("sql", data_dir) for _ in range(repeat)])
    pandas = _best([run_child("pandas", data_dir) for _ in range(repeat)])
    if sql["rows_out"] != pandas["rows_out"] or sql["checksum"] != pandas["checksum"]:
        raise SystemExit(f"results differ: sql {sql} vs pandas {pandas}")
    return {
        "loadavg": os.getloadavg(),
        "requests": requests,
        "ips": ips,
        "source": source,
        "populate": populate,
        "sql": sql,
        "pandas": pandas,
    }


def table(results: list[dict]) -> str:
    lines = [
        "| data | requests | IPs | ClickHouse | pandas load + compute | speed-up "
        "| ClickHouse peak RSS (growth) | pandas peak RSS (growth) | memory ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        s, p = r["sql"], r["pandas"]
        lines.append(
            f"| {r['source']} | {r['requests']:,} | {s['rows_out']:,} | {s['seconds']:.1f} s "
            f"| {p['load_s']:.1f} + {p['compute_s']:.1f} = {p['seconds']:.1f} s "
            f"| **{p['seconds'] / s['seconds']:.1f}x** "
            f"| {_gb(s['peak'])} ({_gb(s['peak'] - s['rss_before'])}) "
            f"| {_gb(p['peak'])} ({_gb(p['peak'] - p['rss_before'])}) "
            f"| **{p['peak'] / s['peak']:.1f}x** |"
        )
    return "\n".join(lines)


def _details(results: list[dict]) -> str:
    lines = [
        "| data | requests | JA4s | on disk | pandas frame | CPU ClickHouse / pandas "
        "| ClickHouse growth per IP |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        s, p, d = r["sql"], r["pandas"], r["populate"]
        lines.append(
            f"| {r['source']} | {r['requests']:,} | {d['distinct_ja4']:,} | {_gb(d['disk_bytes'])} "
            f"| {_gb(p['frame_bytes'])} | {s['cpu_s']:.1f} s / {p['cpu_s']:.1f} s "
            f"| {(s['peak'] - s['rss_before']) / s['rows_out'] / 1024:.2f} KiB |"
        )
    return "\n".join(lines)


def write_readme(results: list[dict], command: str) -> None:
    readme = REPO / "bench" / "README.md"
    text = readme.read_text() if readme.exists() else "# Benchmarks\n"
    load = results[-1].get("loadavg") or os.getloadavg()
    n_features = len(features_for_ip())
    runs = results[0]["sql"].get("runs", 1)
    section = f"""## Entity features

Command: `{command}` ({platform.machine()}, {os.cpu_count()} cores, Python
{platform.python_version()}; load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} from
other work on the machine when it finished, so wall times carry noise: CPU times are in the
second table).

Every IP feature ({n_features} features) over the whole data window:
`build_entity_features(store, "ip", start, end)`, one generated `GROUP BY` in the embedded
store, result as a pandas DataFrame; against the notebook baseline: `store.query_df` of the
columns the features need (`length(RequestHeaders)` instead of the header maps), then the same
features with the pandas reference (`tests/features/reference.py`: vectorized groupby on the
string key, as notebook code does; factorizing the key once by hand would save about a fifth
of its compute, the share key factorization takes in a profile; the implementation the parity
tests compare against). Each side runs in its own
subprocess. Peak RSS is the whole process (`ru_maxrss`, the chDB engine included: about
360 MiB before any query); growth is peak minus RSS before the step. Both sides return the
same IPs and the same request total (checked). Speed-up is pandas end to end (load +
compute) over ClickHouse end to end (query + result to pandas). Times are the best of {runs}
run(s) per side, peaks the highest seen.

* `synth`: `workbench.synth.generate_traffic(n, days=1, seed=7)` (humans, crawlers and bad
  bots; the IP count grows with the requests).
* `fixed`: the generator in the benchmark with a fixed population of {_ips(results)} IPs
  (heavy-tailed requests per IP, one UTC day): only the number of requests changes.

{table(results)}

{_details(results)}

{_goals(results)}

ClickHouse aggregates `ip` in table order (`optimize_aggregation_in_order`, one thread,
2048-entity blocks; the key is the table's sorting-key prefix), so its aggregation state holds
a few thousand IPs at a time and the process grows with the result (one row of
{n_features} numbers per IP), not with the rows read. The pandas process holds every row.
"""
    marker = "## Entity features"
    if marker in text:
        head, _, rest = text.partition(marker)
        nxt = rest.find("\n## ")
        text = head + section + (rest[nxt + 1 :] if nxt >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    readme.write_text(text)


def _goals(results: list[dict]) -> str:
    big = [r for r in results if r["requests"] >= 10_000_000]
    lines = ["Goals at 10 million requests: at least 5x faster and 10x less peak memory."]
    for r in big:
        s, p = r["sql"], r["pandas"]
        lines.append(
            f"`{r['source']}`: {p['seconds'] / s['seconds']:.1f}x faster, "
            f"{p['peak'] / s['peak']:.1f}x less peak memory."
        )
    fixed = sorted((r for r in results if r["source"] == "fixed"), key=lambda r: r["requests"])
    if len(fixed) >= 2:
        a, b = fixed[0], fixed[-1]

        def growth(r: dict, side: str) -> float:
            return r[side]["peak"] - r[side]["rss_before"]

        lines.append(
            f"Scaling (`fixed`): {b['requests'] / a['requests']:.0f}x the requests and "
            f"{b['sql']['rows_out'] / a['sql']['rows_out']:.2f}x the IPs gave "
            f"{growth(b, 'sql') / growth(a, 'sql'):.2f}x the ClickHouse growth "
            f"(pandas: {growth(b, 'pandas') / growth(a, 'pandas'):.2f}x)."
        )
    return " ".join(lines)


def features_for_ip() -> list:
    from workbench.features import features_for

    return features_for("ip")


def _ips(results: list[dict]) -> str:
    fixed = [r for r in results if r["source"] == "fixed"]
    return f"{fixed[0]['ips']:,}" if fixed else "200,000"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, nargs="+", default=[2_000_000])
    parser.add_argument(
        "--source",
        choices=["synth", "fixed"],
        nargs="+",
        default=["synth"],
        help="synth: workbench.synth traffic (IPs grow with requests); "
        "fixed: the generator here, with a fixed IP population (--ips)",
    )
    parser.add_argument("--ips", type=int, default=200_000, help="IP population for --source fixed")
    parser.add_argument("--data-dir", type=Path, default=None, help="keep stores here (reused)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per side: best time, highest peak"
    )
    parser.add_argument("--readme", action="store_true", help="write bench/README.md section")
    parser.add_argument(
        "--out", type=Path, default=REPO / "bench" / "out" / "features.json", help="raw results"
    )
    parser.add_argument("--child", choices=["populate", "sql", "pandas"], help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.child == "populate":
            out = child_populate(str(args.data_dir), args.n, args.ips, args.source[0])
        elif args.child == "sql":
            out = child_sql(str(args.data_dir))
        else:
            out = child_pandas(str(args.data_dir))
        print(json.dumps(out))
        return
    base = args.data_dir or Path(tempfile.mkdtemp(prefix="features-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        for source in args.source:
            for n in args.requests:
                results.append(bench_size(n, args.ips, source, base, args.repeat))
                print(json.dumps(results[-1]), file=sys.stderr)
    finally:
        if args.data_dir is None:
            shutil.rmtree(base, ignore_errors=True)
    print(table(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    if args.readme:
        command = "python bench/features_bench.py " + " ".join(sys.argv[1:])
        write_readme(results, command)


if __name__ == "__main__":
    main()
