"""Char-CNN scoring speed: batch throughput and single-request latency, with its accuracy.

Trains the default CNN on HttpParamsDataset (or loads ``--model DIR``) and reports, in one run:

- accuracy and macro-F1 on ``payload_test.csv`` at this model size;
- batch throughput (requests/s) on the payload test set, on realistic full requests
  (``text_bench.realistic_requests``: real paths, user agents, encoded parameters, headers)
  and on worst-case requests that fill all 512 bytes: wall clock on all CPUs, and per
  CPU-second on one thread (process CPU time: robust when other work shares the machine);
- single-request latency p50/p99 (one request at a time, one thread), wall and CPU time;
- baselines measured in the same run: the text encoding alone, and the TF-IDF + logistic
  regression baseline's scoring throughput on the same payloads.

Run: ``.venv/bin/python bench/cnn_bench.py [--model DIR] [--rows 20000] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from text_bench import DATA, realistic_requests  # noqa: E402

from workbench.features.text import encode_requests, encode_texts  # noqa: E402
from workbench.models.charcnn import predict_logits, torch_threads  # noqa: E402
from workbench.models.train_text import (  # noqa: E402
    load_http_params,
    load_text_model,
    train_payload_classifier,
)


def _best(fn, repeat: int = 3, clock=time.perf_counter) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = clock()
        fn()
        best = min(best, clock() - start)
    return best


def _percentiles(wall: list[float], cpu: list[float]) -> list[int]:
    """p50/p99 wall and p50/p99 CPU time in µs, warm-up (first 10%) dropped."""
    k = len(wall) // 10
    w, c = np.array(wall[k:]) * 1e6, np.array(cpu[k:]) * 1e6
    return [round(float(np.percentile(x, q))) for x in (w, c) for q in (50, 99)]


def _latency(model, ids: np.ndarray, n: int) -> list[int]:
    """Score one pre-encoded request at a time (model only)."""
    wall, cpu = [], []
    lengths = (ids != 0).sum(axis=1)
    with torch_threads(1), torch.inference_mode():
        for i in range(n):
            row = ids[i % len(ids), : max(int(lengths[i % len(ids)]), 1)]
            w0, c0 = time.perf_counter(), time.thread_time()
            x = torch.from_numpy(row[None, :].astype(np.int32))
            logits = model.heads["attack"](model.trunk(x))
            float(torch.softmax(logits, dim=1)[0, 0])
            wall.append(time.perf_counter() - w0)
            cpu.append(time.thread_time() - c0)
    return _percentiles(wall, cpu)


def _latency_end_to_end(est, texts: list[str], n: int) -> list[int]:
    """From one request's text to its calibrated score, one request at a time."""
    wall, cpu = [], []
    model, cal = est.model_, est.calibrators_["attack"]
    max_len = est.text_encoder().max_len
    with torch_threads(1), torch.inference_mode():
        for i in range(n):
            w0, c0 = time.perf_counter(), time.thread_time()
            ids = encode_texts([texts[i % len(texts)]], max_len, n_threads=1)
            row = ids[:, : max(int((ids != 0).sum()), 1)]
            logits = model.heads["attack"](model.trunk(torch.from_numpy(row.astype(np.int32))))
            cal.score(1.0 - torch.softmax(logits, dim=1)[:, 0].numpy())
            wall.append(time.perf_counter() - w0)
            cpu.append(time.thread_time() - c0)
    return _percentiles(wall, cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a saved char-CNN folder (default: train)")
    parser.add_argument("--rows", type=int, default=20_000, help="realistic requests")
    parser.add_argument("--latency-n", type=int, default=3_000)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    out: dict = {"torch_threads_default": torch.get_num_threads()}

    train_csv = DATA / "http_params" / "payload_train.csv"
    test_csv = DATA / "http_params" / "payload_test.csv"
    if args.model:
        est = load_text_model(args.model)
        baseline = None
        metrics = json.loads((args.model / "metrics.json").read_text())
    else:
        start = time.perf_counter()
        result = train_payload_classifier(train_csv, test_csv, seed=0, progress=False)
        out["train_seconds"] = round(time.perf_counter() - start, 1)
        est, baseline, metrics = result.model, result.baseline, result.metrics
    cfg = est.model_.config
    out["model"] = {
        "embed_dim": cfg.embed_dim,
        "kernel_sizes": list(cfg.kernel_sizes),
        "n_filters": cfg.n_filters,
        "hidden": cfg.hidden,
        "max_len": est.text_encoder().max_len,
        "parameters": sum(p.numel() for p in est.model_.parameters()),
    }
    mc = metrics["cnn"]["multiclass"]
    out["accuracy"] = {"accuracy": mc["accuracy"], "macro_f1": mc["macro_f1"],
                       "macro_f1_attacks": mc["macro_f1_attacks"]}  # fmt: skip
    print(f"model: {out['model']}")
    print(f"payload test accuracy {mc['accuracy']:.4%}, macro-F1 {mc['macro_f1']:.4f} "
          f"(attack types only {mc['macro_f1_attacks']:.4f})")  # fmt: skip

    payloads = load_http_params(test_csv)["payload"].tolist()
    frame = realistic_requests(args.rows, seed=1)
    req_ids = est.text_encoder().encode_requests(frame)
    full = np.random.default_rng(0).integers(1, 257, size=(args.rows // 4, 512), dtype=np.int16)
    pay_ids = est.encode(payloads)
    lengths = {
        "payloads": float((pay_ids != 0).sum(1).mean()),
        "requests": float((req_ids != 0).sum(1).mean()),
        "full_512": 512.0,
    }
    out["mean_encoded_length"] = lengths
    print(f"mean encoded length: {lengths}")

    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    model = est.model_
    cpu_clock = time.process_time
    table: dict[str, tuple[float, float]] = {}  # name -> (wall req/s all CPUs, req/s per CPU-s)

    def measure(name: str, n: int, fn) -> None:
        wall = _best(lambda: fn(None))
        cpu = _best(lambda: fn(1), clock=cpu_clock)
        table[name] = (n / wall, n / cpu)

    measure(
        "encode only: payload texts",
        len(payloads),
        lambda w: encode_texts(payloads, est.text_encoder().max_len, n_threads=w),
    )
    measure(
        "encode only: request columns",
        args.rows,
        lambda w: encode_requests(frame, est.text_encoder().max_len, n_threads=w),
    )
    for name, ids in (("payloads", pay_ids), ("requests", req_ids), ("full 512 bytes", full)):
        measure(
            f"CNN model only: {name}",
            len(ids),
            lambda w, ids=ids: predict_logits(model, ids, heads=("attack",), n_workers=w),
        )

    def score(w, data):
        est.n_jobs = w
        return est.score_1_99(data)

    measure("CNN end to end: payload text -> score", len(payloads), lambda w: score(w, payloads))
    measure("CNN end to end: request columns -> score", args.rows, lambda w: score(w, frame))
    if baseline is not None:
        t = _best(lambda: baseline.score_1_99(payloads))
        c = _best(lambda: baseline.score_1_99(payloads), clock=cpu_clock)
        table["baseline TF-IDF + LR: payload text -> score"] = (
            len(payloads) / t,
            len(payloads) / c,
        )
    out["throughput_per_s"] = {k: [round(a), round(b)] for k, (a, b) in table.items()}
    print("\n| what | wall, 2 CPUs (req/s) | 1 thread, per CPU-second (req/s) |")
    print("| --- | ---: | ---: |")
    for k, (a, b) in table.items():
        print(f"| {k} | {a:,.0f} | {b:,.0f} |")

    out["latency_us"] = {
        "model only, realistic request": _latency(model, req_ids, args.latency_n),
        "model only, payload": _latency(model, pay_ids, args.latency_n),
        "payload text -> calibrated score": _latency_end_to_end(est, payloads, args.latency_n),
    }
    print("\n| one request at a time, 1 thread | p50 µs | p99 µs | p50 CPU µs | p99 CPU µs |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for k, v in out["latency_us"].items():
        print(f"| {k} | " + " | ".join(str(x) for x in v) + " |")
    batch = table["CNN model only: requests"]
    p99 = out["latency_us"]["model only, realistic request"][1]
    print(f"\ngoal >= 10,000 requests/s on realistic requests: wall {batch[0]:,.0f}/s, "
          f"per CPU-second {batch[1]:,.0f}/s; goal p99 < 1 ms: {p99} µs")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
