"""Request text encoding throughput: vectorized ``encode_requests`` against a naive loop.

Builds realistic requests from real public data (paths and user agents from the Apache access
log in ``../shared/data/access_logs``, parameter values from HttpParamsDataset, URL-encoded),
then measures requests/s of ``workbench.features.encode_requests`` and, in the same run, of a
straightforward per-character Python implementation of the same normalization (the baseline).

Run: ``.venv/bin/python bench/text_bench.py [--rows 200000] [--naive-rows 5000]``
"""

from __future__ import annotations

import argparse
import csv
import html
import os
import re
import sys
import time
from pathlib import Path
from urllib.parse import quote, quote_plus

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from workbench.features.text import (  # noqa: E402
    DEFAULT_HEADERS,
    encode_requests,
    encode_texts,
    request_texts,
)

DATA = Path(os.environ.get("WB_SHARED_DATA", REPO.parent / "shared" / "data"))
_LOG_LINE = re.compile(r'^\S+ \S+ \S+ \[[^\]]+\] "(\S+) (\S+)[^"]*" \d+ \S+ "[^"]*" "([^"]*)"')
_ACCEPTS = [
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    "application/json, text/plain, */*",
    "*/*",
    "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
]
_LANGS = ["en-US,en;q=0.9", "de-DE,de;q=0.9,en;q=0.8", "fr-FR,fr;q=0.8", ""]
_ENCODINGS = ["gzip, deflate, br", "gzip, deflate", ""]


def _log_fields() -> tuple[list[str], list[str], list[str]]:
    methods, paths, agents = [], [], []
    with open(DATA / "access_logs" / "apache_combined_2015.log", encoding="utf-8") as fh:
        for line in fh:
            m = _LOG_LINE.match(line)
            if m:
                methods.append(m.group(1))
                paths.append(m.group(2))
                agents.append(m.group(3))
    return methods, paths, agents


def _payloads() -> list[str]:
    with open(DATA / "http_params" / "payload_train.csv", newline="", encoding="utf-8") as fh:
        return [row["payload"] for row in csv.DictReader(fh)]


def realistic_requests(n: int, seed: int = 0) -> pd.DataFrame:
    """Return ``n`` http_requests-like rows built from real paths, user agents and payloads."""
    rng = np.random.default_rng(seed)
    methods, paths, agents = _log_fields()
    payloads = _payloads()
    names = ["id", "q", "page", "user", "search", "ref", "lang", "token", "item", "sort"]
    rows_path, rows_query, rows_body, rows_method = [], [], [], []
    log_i = rng.integers(0, len(paths), n)
    n_params = rng.choice([0, 0, 1, 2, 3, 4], n)
    is_post = rng.random(n) < 0.1
    for i in range(n):
        path, _, query = paths[log_i[i]].partition("?")
        params = [
            f"{names[rng.integers(len(names))]}={quote(payloads[rng.integers(len(payloads))])}"
            for _ in range(n_params[i])
        ]
        if query:
            params.insert(0, query)
        rows_path.append(path)
        if is_post[i]:
            rows_method.append("POST")
            rows_query.append("")
            body = "&".join(
                f"{names[rng.integers(len(names))]}={quote_plus(payloads[rng.integers(len(payloads))])}"
                for _ in range(1 + n_params[i])
            )
            rows_body.append(body)
        else:
            rows_method.append(methods[log_i[i]])
            rows_query.append("&".join(params))
            rows_body.append("")
    headers = [
        {
            "Accept": _ACCEPTS[a],
            "Accept-Language": _LANGS[b],
            "Accept-Encoding": _ENCODINGS[c],
            **({"Content-Type": "application/x-www-form-urlencoded"} if post else {}),
        }
        for a, b, c, post in zip(
            rng.integers(0, len(_ACCEPTS), n),
            rng.integers(0, len(_LANGS), n),
            rng.integers(0, len(_ENCODINGS), n),
            is_post,
            strict=True,
        )
    ]
    return pd.DataFrame(
        {
            "ClientRequestMethod": rows_method,
            "ClientRequestPath": rows_path,
            "ClientRequestQuery": rows_query,
            "RequestBody": rows_body,
            "ClientRequestUserAgent": [agents[i] for i in log_i],
            "RequestHeaders": headers,
        }
    )


# -- the baseline: the same normalization, one character at a time --------------------------
_HEXDIGITS = "0123456789abcdefABCDEF"


def _naive_percent(text: bytes) -> tuple[bytes, bool]:
    out, i, found = bytearray(), 0, False
    while i < len(text):
        c = text[i]
        if (
            c == 37
            and i + 2 < len(text)
            and chr(text[i + 1]) in _HEXDIGITS
            and chr(text[i + 2]) in _HEXDIGITS
        ):
            out.append(int(text[i + 1 : i + 3], 16))
            i += 3
            found = True
        else:
            out.append(c)
            i += 1
    return bytes(out), found


_ENTITY = re.compile(rb"&(?:#[0-9]{1,7};?|#[xX][0-9a-fA-F]{1,6};?|[A-Za-z][A-Za-z0-9]{1,31};)")


def naive_encode(texts: list[str], max_len: int = 512) -> np.ndarray:
    """Per-character reference implementation: the baseline the vectorized code is compared to."""
    out = np.zeros((len(texts), max_len), dtype=np.int16)
    for r, text in enumerate(texts):
        raw = text.encode("utf-8").replace(b"+", b" ")
        for _ in range(3):
            raw, found = _naive_percent(raw)
            if not found:
                break
        raw = _ENTITY.sub(lambda m: html.unescape(m.group().decode("ascii")).encode(), raw)
        chars, prev_digit = bytearray(), False
        for c in raw:
            if 65 <= c <= 90:
                c += 32
            if 48 <= c <= 57:
                if prev_digit:
                    continue
                c, prev_digit = 48, True
            else:
                prev_digit = False
            chars.append(c)
        for j, c in enumerate(chars[:max_len]):
            out[r, j] = c + 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--naive-rows", type=int, default=5_000)
    parser.add_argument("--max-len", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    frame = realistic_requests(args.rows)
    texts = request_texts(frame, DEFAULT_HEADERS)
    lengths = np.array([len(t.encode()) for t in texts])
    print(
        f"{args.rows:,} realistic requests, text bytes: mean {lengths.mean():.0f}, "
        f"p50 {np.median(lengths):.0f}, p99 {np.percentile(lengths, 99):.0f}; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    n, L = args.rows, args.max_len
    runs = {
        "encode_requests (DataFrame columns -> ids)": lambda th: encode_requests(
            frame, max_len=L, n_threads=th
        ),
        "encode_texts (request strings -> ids)": lambda th: encode_texts(
            texts, max_len=L, n_threads=th
        ),
    }
    print("\n| what | wall, all threads (req/s) | 1 thread, per CPU-second (req/s) |")
    print("| --- | ---: | ---: |")
    results = {}
    for name, fn in runs.items():
        wall = min(_timed(lambda fn=fn: fn(None)) for _ in range(args.repeat))
        cpu = min(_cpu_timed(lambda fn=fn: fn(1)) for _ in range(args.repeat))
        results[name] = (n / wall, n / cpu)
        print(f"| {name} | {n / wall:,.0f} | {n / cpu:,.0f} |")

    sub = texts[: args.naive_rows]
    naive_cpu = _cpu_timed(lambda: naive_encode(sub, L))
    naive_s = len(sub) / naive_cpu
    print(f"| naive per-character Python loop (baseline) | | {naive_s:,.0f} |")
    same = np.array_equal(naive_encode(sub[:2000], L), encode_texts(sub[:2000], L))
    for name, (_, per_cpu) in results.items():
        print(f"{name}: {per_cpu / naive_s:.0f}x the naive loop (1 thread, CPU time)")
    print(f"identical ids to the naive loop on 2,000 rows: {same}")
    best = results["encode_requests (DataFrame columns -> ids)"][0]
    print(f"goal >= 200,000 requests/s (wall clock): {'met' if best >= 200_000 else 'NOT met'}")


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _cpu_timed(fn) -> float:
    """CPU seconds of this process (robust to other processes sharing the machine)."""
    start = time.process_time()
    fn()
    return time.process_time() - start


if __name__ == "__main__":
    main()
