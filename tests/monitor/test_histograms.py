"""Histogram queries in ClickHouse against numpy and scipy, on both backends."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp

from workbench.errors import InputError
from workbench.monitor import (
    Source,
    category_counts,
    design_effect,
    exact_ks,
    measure_drift,
    numeric_counts,
    reference_quantiles,
)
from workbench.monitor.histograms import OTHER
from workbench.monitor.stats import Thresholds, js_distance, psi

HOSTILE = ["'; DROP TABLE scores; --", 'a"b\\c', "line\nbreak", "{x:String}", "üñí©ødé", ""]


def make_values(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_ref, n_cur = 900, 700
    x = np.concatenate([rng.normal(0, 1, n_ref), rng.normal(0.4, 1.3, n_cur)])
    # x: NaN arrives as NULL (pandas), infinities as they are; all count as missing
    # shares with exact ties and thirds, which must land in the same bin on both sides
    share = np.concatenate([rng.integers(0, 4, n_ref) / 3, rng.integers(0, 4, n_cur) / 3])
    special = np.concatenate([np.full(40, np.nan), np.full(10, np.inf), np.full(5, -np.inf)])
    x[: special.size] = special
    x[n_ref : n_ref + 30] = np.nan
    cats = np.array(HOSTILE + [f"c{i}" for i in range(30)], dtype=object)
    p = np.r_[np.full(len(HOSTILE), 0.05), np.full(30, 0.7 / 30)]
    c = np.concatenate([rng.choice(cats, n_ref, p=p), rng.choice(cats, n_cur, p=p[::-1] / p.sum())])
    return pd.DataFrame(
        {
            "w": np.r_[np.zeros(n_ref, np.uint8), np.ones(n_cur, np.uint8)],
            "x": x,
            "share": share,
            "c": c,
            "wt": rng.integers(1, 50, n_ref + n_cur).astype(np.uint64),
            "cl": rng.integers(0, 60, n_ref + n_cur).astype(str),
        }
    )


@pytest.fixture(scope="module")
def values(store):
    store.command(
        "CREATE TABLE IF NOT EXISTS monitor_values (w UInt8, x Nullable(Float64), share Float64, "
        "c String, wt UInt64, cl String) ENGINE = MergeTree ORDER BY tuple()"
    )
    store.command("TRUNCATE TABLE monitor_values")
    frame = make_values()
    store.insert_df("monitor_values", frame)
    return store, frame


def source(weight: str | None = None, cluster: str | None = None) -> Source:
    sql = "SELECT x, share, c, wt, cl FROM monitor_values WHERE w = {w{n}:UInt8}"
    return Source(
        name="values",
        reference_sql=sql.replace("{n}", "0"),
        current_sql=sql.replace("{n}", "1"),
        parameters={"w0": 0, "w1": 1},
        numeric=("x", "share"),
        categorical=("c",),
        weight=weight,
        cluster=cluster,
    )


def side(frame: pd.DataFrame, w: int) -> pd.DataFrame:
    return frame[frame["w"] == w]


def numpy_counts(values: np.ndarray, edges: np.ndarray, weights=None) -> np.ndarray:
    """Right-closed bins with open ends, then a missing bin (NaN and infinities)."""
    finite = np.isfinite(values)
    weights = np.ones(len(values)) if weights is None else np.asarray(weights, dtype=float)
    binned = np.bincount(
        np.searchsorted(edges, values[finite], "left"),
        weights=weights[finite],
        minlength=edges.size + 1,
    )
    return np.append(binned, weights[~finite].sum())


def test_quantiles_are_values_of_the_reference_data(values):
    store, frame = values
    levels = [0.1, 0.5, 0.9]
    got = reference_quantiles(store, source(), levels)
    ref = side(frame, 0)
    finite = ref["x"][np.isfinite(ref["x"])].to_numpy()
    q, n = got["x"]
    assert n == finite.size
    assert set(q) <= set(finite)  # quantilesExact returns data values
    np.testing.assert_allclose(q, np.quantile(finite, levels), atol=0.05)
    q_share, _ = got["share"]
    assert set(q_share) <= {0.0, 1 / 3, 2 / 3, 1.0}


def test_counts_per_bin_match_numpy_including_the_missing_bin(values):
    store, frame = values
    edges = {"x": np.array([-1.0, -0.25, 0.0, 0.5, 1.5]), "share": np.array([1 / 3, 2 / 3])}
    got = numeric_counts(store, source(), edges)
    for column, e in edges.items():
        ref, cur, rows, squares = got[column]
        for w, counts in ((0, ref), (1, cur)):
            expected = numpy_counts(side(frame, w)[column].to_numpy(), e)
            np.testing.assert_array_equal(counts, expected)
        assert list(rows) == [len(side(frame, 0)), len(side(frame, 1))]
        assert list(squares) == list(rows)  # unit weights
    # ties at an edge go to the bin that ends there, on both sides alike
    ref_share = side(frame, 0)["share"].to_numpy()
    assert got["share"][0][0] == np.sum(ref_share <= 1 / 3)


def test_weighted_counts_match_numpy(values):
    store, frame = values
    edges = {"x": np.array([-0.5, 0.5]), "share": np.array([0.5])}
    got = numeric_counts(store, source(weight="wt"), edges)
    for w in (0, 1):
        part = side(frame, w)
        expected = numpy_counts(part["x"].to_numpy(), edges["x"], part["wt"].to_numpy())
        np.testing.assert_array_equal(got["x"][w], expected)
        assert got["x"][3][w] == float((part["wt"].astype(float) ** 2).sum())


def test_exact_ks_matches_scipy(values):
    store, frame = values
    got = exact_ks(store, source())
    for column in ("x", "share"):
        a = side(frame, 0)[column].to_numpy()
        b = side(frame, 1)[column].to_numpy()
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        assert got[column] == pytest.approx(ks_2samp(a, b).statistic, abs=1e-12)
    weighted = exact_ks(store, source(weight="wt"), ["x"])
    a, b = side(frame, 0), side(frame, 1)
    a, b = a[np.isfinite(a["x"])], b[np.isfinite(b["x"])]
    expanded = ks_2samp(np.repeat(a["x"], a["wt"]), np.repeat(b["x"], b["wt"])).statistic
    assert weighted["x"] == pytest.approx(expanded, abs=1e-12)
    with pytest.raises(InputError, match="not numeric"):
        exact_ks(store, source(), ["c"])


def test_category_counts_keep_hostile_strings_intact_and_pool_the_rest(values):
    store, frame = values
    got = category_counts(store, source(), max_categories=8)["c"]
    assert len(got) == 9 and got["category"].iloc[-1] == OTHER
    totals = side(frame, 0)["c"].value_counts(), side(frame, 1)["c"].value_counts()
    both = totals[0].add(totals[1], fill_value=0).sort_values(ascending=False)
    assert got["reference"].sum() == len(side(frame, 0))
    assert got["current"].sum() == len(side(frame, 1))
    for rec in got.iloc[:-1].to_dict("records"):
        assert rec["reference"] == totals[0].get(rec["category"], 0)
        assert rec["current"] == totals[1].get(rec["category"], 0)
    kept = set(got["category"].iloc[:-1])
    assert min(both[list(kept)]) >= max(both.drop(list(kept)))  # the largest ones are kept
    every = category_counts(store, source(), max_categories=100)["c"]
    assert set(HOSTILE) <= set(every["category"]) and OTHER not in set(every["category"])


def test_design_effect_is_kish_on_the_reference_clusters(values):
    store, frame = values
    ref = side(frame, 0)
    m = ref.groupby("cl")["wt"].sum().astype(float)
    assert design_effect(store, source(weight="wt", cluster="cl")) == pytest.approx(
        (m**2).sum() / m.sum()
    )
    w = ref["wt"].astype(float)
    assert design_effect(store, source(weight="wt")) == pytest.approx((w**2).sum() / w.sum())
    assert design_effect(store, source()) == pytest.approx(1.0)


def test_measure_drift_agrees_with_a_numpy_recomputation(values):
    store, frame = values
    result = measure_drift(store, source(), ks="exact").set_index("subject")
    row = result.loc["x"]
    edges = np.array(row["details"]["edges"])
    ref = numpy_counts(side(frame, 0)["x"].to_numpy(), edges)
    cur = numpy_counts(side(frame, 1)["x"].to_numpy(), edges)
    assert row["psi"] == pytest.approx(psi(ref, cur), rel=1e-9)
    assert row["js"] == pytest.approx(js_distance(ref, cur), rel=1e-9)
    assert row["missing_reference"] == pytest.approx(55 / 900)
    assert row["missing_current"] == pytest.approx(30 / 700)
    assert 5 <= len(edges) <= 9
    cat = result.loc["c"]
    assert cat["kind"] == "categorical" and np.isnan(cat["ks"])
    assert cat["severity"] == "major"  # the category shares were reversed
    assert result.loc["x", "severity"] in ("minor", "major")  # mean 0 -> 0.4, sd 1 -> 1.3
    binned = measure_drift(store, source(), ks="binned").set_index("subject")
    assert binned.loc["x", "ks_method"] == "binned"
    assert binned.loc["x", "ks"] <= result.loc["x", "ks"] + 1e-12
    assert binned.loc["x", "psi"] == pytest.approx(row["psi"])


def test_tdigest_edges_give_nearly_the_same_answer(values):
    store, _ = values
    exact = measure_drift(store, source()).set_index("subject")
    approx = measure_drift(store, source(), quantiles="tdigest").set_index("subject")
    assert approx.loc["x", "psi"] == pytest.approx(exact.loc["x", "psi"], abs=0.05)
    assert approx.loc["x", "severity"] == exact.loc["x", "severity"]
    assert approx.loc["x", "ks"] == exact.loc["x", "ks"]  # exact KS does not use edges
    with pytest.raises(InputError, match="quantile method"):
        reference_quantiles(store, source(), [0.5], "sampled")


def test_measure_drift_of_a_window_against_itself_is_zero(values):
    store, _ = values
    same = Source("same", *(["SELECT x, share, c FROM monitor_values WHERE w = 0"] * 2), {},
                  numeric=("x", "share"), categorical=("c",))  # fmt: skip
    result = measure_drift(store, same, thresholds=Thresholds(alpha=None))
    assert (result["psi"] == 0).all() and (result["js"].abs() < 1e-7).all()
    assert (result.loc[result["kind"] == "numeric", "ks"] == 0).all()
    assert set(result["severity"]) == {"none"}


def test_an_empty_window_is_a_clear_error(values):
    store, _ = values
    empty = Source("values", "SELECT x FROM monitor_values WHERE w = 0",
                   "SELECT x FROM monitor_values WHERE w = 7", {}, numeric=("x",))  # fmt: skip
    with pytest.raises(InputError, match="current window has no rows in values"):
        measure_drift(store, empty)
    with pytest.raises(InputError, match="ks must be one of"):
        measure_drift(store, source(), ks="fast")


def test_source_rejects_bad_names():
    with pytest.raises(Exception, match="not a valid"):
        Source("s", "SELECT 1", "SELECT 1", {}, numeric=("x; DROP",))
    with pytest.raises(InputError, match="both numeric and categorical"):
        Source("s", "SELECT 1", "SELECT 1", {}, numeric=("x",), categorical=("x",))
