"""Char-CNN explanations per second: the gradient explainer against shap's KernelExplainer.

Both explain the same char-CNN (bot head, the default ``CharCNNConfig``) on the same 1,000
requests of ``data_samples/http_requests.parquet`` (a seeded sample), attributing the
bad-class log-odds to the request's characters, with the empty request as the background:

* ``CNNExplainer`` (``workbench.explain``): expected gradients along the path from the
  empty request, ``--steps`` points, all 1,000 requests measured;
* ``shap.KernelExplainer``: one feature per byte of the request (a masked byte becomes
  padding), ``nsamples="auto"`` (``2 L + 2048`` model calls per request) and a capped
  ``--kernel-nsamples`` variant. It is slow, so it runs on ``--kernel-rows`` of the same
  requests and its time for 1,000 is extrapolated from the mean per request, stated as such.

Both use the same torch threads. The benchmark also reports the additivity gap of the
gradient explainer and how well its per-character values agree with KernelExplainer's
(Pearson correlation per request, averaged).

Run: ``.venv/bin/python bench/explain_bench.py [--model models/cnn] [--readme]``
(without ``--model`` a CNN is trained first, a few minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import shap  # noqa: E402
import torch  # noqa: E402

from workbench.explain import CNNExplainer  # noqa: E402
from workbench.features.text import PAD_ID  # noqa: E402
from workbench.models.charcnn import text_lengths  # noqa: E402
from workbench.models.charcnn_classifier import CharCNNClassifier  # noqa: E402
from workbench.models.train_text import load_text_model, train_request_classifier  # noqa: E402

SAMPLE = REPO / "data_samples" / "http_requests.parquet"
COLUMNS = [
    "RayID",
    "ClientRequestMethod",
    "ClientRequestPath",
    "ClientRequestQuery",
    "RequestBody",
    "ClientRequestUserAgent",
    "RequestHeaders",
    "label",
    "actor",
    "EdgeStartTimestamp",
]


def load_requests(n: int, seed: int, skip: set[str] | None = None) -> pd.DataFrame:
    frame = pd.read_parquet(SAMPLE, columns=COLUMNS)
    if skip:
        frame = frame[~frame["RayID"].isin(skip)]
    return frame.sample(n=n, random_state=seed).reset_index(drop=True)


def get_model(path: str | None, out: Path) -> tuple[CharCNNClassifier, str]:
    if path:
        return load_text_model(path), path
    folder = out / "explain-bench-cnn"
    if not (folder / "card.json").exists():
        rows = load_requests(20_000, seed=1)
        train_request_classifier(
            rows, label_col="label", head="bot", out_dir=folder, seed=0, epochs=2, progress=True
        )
    return load_text_model(folder), str(folder)


def kernel_explain(model: CharCNNClassifier, explainer: CNNExplainer, ids_row, nsamples):
    length = int(text_lengths(ids_row[None, :])[0])
    row = ids_row[:length].astype(np.float64)

    def f(z: np.ndarray) -> np.ndarray:
        z = np.rint(np.asarray(z)).astype(np.int16)
        return explainer.output(z)

    kernel = shap.KernelExplainer(f, np.full((1, length), float(PAD_ID)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = kernel.shap_values(row[None, :], nsamples=nsamples, silent=True)
    return np.asarray(values).reshape(-1), float(np.ravel(kernel.expected_value)[0])


def run(args: argparse.Namespace) -> dict:
    out = REPO / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    model, model_path = get_model(args.model, out)
    model.head = "bot"
    requests = load_requests(args.requests, seed=args.seed)
    ids = model.encode(requests)
    lengths = text_lengths(ids)
    explainer = CNNExplainer(model, head="bot", steps=args.steps, n_threads=args.threads)

    explainer.byte_attributions(ids[:8])  # warm-up
    t0 = time.perf_counter()
    per_byte = explainer.byte_attributions(ids)
    grad_before = time.perf_counter() - t0
    output = explainer.output(ids)
    base = explainer.base_value()
    gap = np.abs(per_byte.sum(axis=1) + base - output)

    kernel = measure_kernel(args, model, explainer, ids, lengths, per_byte)
    # the machine is shared: time the gradient explainer again after Kernel, use the mean
    t0 = time.perf_counter()
    explainer.byte_attributions(ids)
    grad_after = time.perf_counter() - t0
    grad_s = (grad_before + grad_after) / 2
    for k in kernel.values():
        k["ratio_gradient_over_kernel"] = round((len(ids) / grad_s) * k["seconds_per_request"], 1)
    return {
        "model": model_path,
        "requests": len(ids),
        "bytes_mean": float(lengths.mean()),
        "threads": args.threads,
        "gradient": {
            "steps": args.steps,
            "seconds": round(grad_s, 3),
            "seconds_before_and_after_kernel": [round(grad_before, 3), round(grad_after, 3)],
            "per_second": round(len(ids) / grad_s, 2),
            "additivity_gap_mean": float(gap.mean()),
            "additivity_gap_max": float(gap.max()),
            "output_spread_mean": float(np.abs(output - base).mean()),
        },
        "kernel": kernel,
    }


def measure_kernel(args, model, explainer, ids, lengths, per_byte) -> dict:
    out = {}
    subset = np.arange(min(args.kernel_rows, len(ids)))
    for label, nsamples in (("auto", "auto"), (f"{args.kernel_nsamples}", args.kernel_nsamples)):
        times, corr = [], []
        for i in subset:
            t0 = time.perf_counter()
            values, _ = kernel_explain(model, explainer, ids[i], nsamples)
            times.append(time.perf_counter() - t0)
            g = per_byte[i, : lengths[i]]
            if np.std(values) > 0 and np.std(g) > 0:
                corr.append(float(np.corrcoef(values, g)[0, 1]))
        mean_s = float(np.mean(times))
        out[label] = {
            "nsamples": nsamples,
            "measured_rows": len(subset),
            "seconds_per_request": round(mean_s, 4),
            "per_second": round(1.0 / mean_s, 3),
            "extrapolated_seconds_for_all": round(mean_s * len(ids), 1),
            "correlation_with_gradient": round(float(np.mean(corr)), 3) if corr else None,
        }
        print(f"kernel {label}: {mean_s:.3f} s/request", flush=True)
    return out


def table(r: dict) -> str:
    g = r["gradient"]
    lines = [
        "| explainer | requests measured | explanations/s | time for 1,000 | gradient / this |"
        " agreement with gradient (Pearson r) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        f"| CNNExplainer, expected gradients, {g['steps']} steps | {r['requests']:,} "
        f"| {g['per_second']:,.1f} | {g['seconds']:,.1f} s (measured, mean of 2 runs) | 1.0x | - |",
    ]
    for label, k in r["kernel"].items():
        name = "auto (2L+2048)" if label == "auto" else label
        lines.append(
            f"| KernelExplainer, nsamples {name} | {k['measured_rows']} "
            f"| {k['per_second']:,.3f} | {k['extrapolated_seconds_for_all']:,.0f} s (extrapolated) "
            f"| {k['ratio_gradient_over_kernel']:,.0f}x | {k['correlation_with_gradient']} |"
        )
    return "\n".join(lines)


def write_readme(r: dict, command: str) -> None:
    readme = REPO / "bench" / "README.md"
    text = readme.read_text() if readme.exists() else "# Benchmarks\n"
    load = os.getloadavg()
    g = r["gradient"]
    section = f"""## Explanations

`{command}` on {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},
torch {torch.__version__}, shap {shap.__version__}, {r["threads"]} torch thread(s) for both
(load average when it finished: {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f}).

The bot-head char-CNN (default `CharCNNConfig`; without `--model` the benchmark first trains
one on 20,000 sample requests, 2 epochs) explained on the same {r["requests"]:,}
sample requests (mean {r["bytes_mean"]:.0f} bytes of normalized text), per character, with
the empty request as the background. KernelExplainer is too slow to run on all of them: it
ran on the first requests of the same sample and its time for 1,000 is extrapolated from its
mean per request (column "time for 1,000"). Ratio = gradient explanations/s over Kernel's.
One torch thread each: on these 2-core machines two threads made both explainers several
times slower (the gradient explainer ran at 190 explanations/s with two threads against
about 2,400 with one), so `CNNExplainer` uses one thread on machines of up to 2 CPUs.

{table(r)}

Additivity of the gradient explainer (`base + sum(values)` against the network's output,
log-odds): mean gap {g["additivity_gap_mean"]:.4f}, max {g["additivity_gap_max"]:.4f}, for a
mean output spread of {g["output_spread_mean"]:.2f} from the base value. KernelExplainer's
values add up by construction; the agreement column is the mean per-request Pearson
correlation of the two explainers' values over the measured requests.
"""
    marker = "## Explanations"
    if marker in text:
        head, _, rest = text.partition(marker)
        nxt = rest.find("\n## ")
        text = head + section + (rest[nxt + 1 :] if nxt >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    readme.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a saved char-CNN folder (default: train one)")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=128)
    parser.add_argument("--kernel-rows", type=int, default=20)
    parser.add_argument("--kernel-nsamples", type=int, default=512)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--readme", action="store_true", help="write bench/README.md section")
    args = parser.parse_args()
    results = run(args)
    (REPO / "bench" / "out" / "explain.json").write_text(json.dumps(results, indent=2))
    print(table(results))
    g = results["gradient"]
    for label, k in results["kernel"].items():
        print(f"ratio (gradient / Kernel nsamples={label}): {k['ratio_gradient_over_kernel']:.0f}x")
    print(f"additivity gap: mean {g['additivity_gap_mean']:.4f}, max {g['additivity_gap_max']:.4f}")
    if args.readme:
        write_readme(results, "python bench/explain_bench.py " + " ".join(sys.argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
