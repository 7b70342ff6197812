"""Selection strategies: pure ranking properties, and the queue built from a saved model."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.errors import InputError
from workbench.labels import STRATEGIES, build_queue, select_queue, write_labels
from workbench.labels.queue import farthest_points, margins


def test_uncertainty_picks_closest_to_half_and_skips_excluded() -> None:
    p = np.array([0.01, 0.45, 0.99, 0.52, 0.7, 0.5])
    assert select_queue(p, 3, "uncertainty").tolist() == [5, 3, 1]
    exclude = np.array([False, False, False, False, False, True])
    assert select_queue(p, 3, "uncertainty", exclude=exclude).tolist() == [3, 1, 4]
    assert select_queue(p, 10, "uncertainty", exclude=exclude).size == 5
    assert select_queue(p, 2, "uncertainty", exclude=np.ones(6, bool)).size == 0


def test_margin_on_multiclass_differs_from_max_probability() -> None:
    p = np.array([[0.4, 0.4, 0.2], [0.35, 0.33, 0.32], [0.9, 0.05, 0.05], [0.5, 0.1, 0.4]])
    np.testing.assert_allclose(margins(p), [0.0, 0.02, 0.85, 0.1])
    assert select_queue(p, 2, "margin").tolist() == [0, 1]
    assert select_queue(p, 1, "uncertainty").tolist() == [1]  # lowest top probability


def test_random_is_seeded_and_without_repeats() -> None:
    p = np.linspace(0, 1, 100)
    a = select_queue(p, 20, "random", seed=3)
    assert a.tolist() == select_queue(p, 20, "random", seed=3).tolist()
    assert a.tolist() != select_queue(p, 20, "random", seed=4).tolist()
    assert np.unique(a).size == 20


def test_diversity_spreads_over_clusters() -> None:
    rng = np.random.default_rng(0)
    centers = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], dtype=float)
    x = np.vstack([c + rng.normal(0, 0.1, (25, 2)) for c in centers])
    p = np.full(100, 0.5) + rng.normal(0, 0.01, 100)
    p[:25] = 0.5  # the first cluster is the most uncertain
    div = select_queue(p, 4, "diversity", features=x, pool_factor=25)
    assert sorted(set(div // 25)) == [0, 1, 2, 3]
    unc = select_queue(p, 4, "uncertainty")
    assert set(unc // 25) == {0}
    with pytest.raises(InputError, match="needs the feature matrix"):
        select_queue(p, 4, "diversity")
    assert farthest_points(x, 200).size == 100


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([0.5], 1, "entropy"), "unknown strategy"),
        (([0.5], 0, "random"), "k must be"),
        (([1.5], 1, "random"), "within"),
        (([np.nan], 1, "random"), "finite"),
        (([], 1, "random"), "non-empty"),
    ],
)
def test_bad_arguments(args, message) -> None:
    with pytest.raises(InputError, match=message):
        select_queue(*args)


def test_build_queue_from_saved_model_skips_labelled(embedded_store, tmp_path) -> None:
    from workbench.models import train_tabular
    from workbench.synth import write_traffic

    write_traffic(embedded_store, 20_000, days=1.0, seed=1, progress=False)
    folder = tmp_path / "bot-ip"
    train_tabular(embedded_store, "2026-11-01", "2026-11-02", folder, seed=0, progress=False)
    for strategy in STRATEGIES:
        q = build_queue(embedded_store, folder, "2026-11-01", "2026-11-02", k=8,
                        strategy=strategy)  # fmt: skip
        assert q["rank"].tolist() == list(range(1, 9))
        assert q["ClientIP"].is_unique and q["probability"].between(0, 1).all()
        assert q["score"].between(1, 99).all() and "requests" in q.columns
    q = build_queue(embedded_store, folder, "2026-11-01", "2026-11-02", k=8)
    u = np.abs(q["probability"].to_numpy() - 0.5)
    assert np.all(np.diff(u) >= -1e-12)  # most uncertain first
    write_labels(embedded_store, q["ClientIP"].head(3).tolist(), ["bad_bot"] * 3, "ann", "t")
    again = build_queue(embedded_store, folder, "2026-11-01", "2026-11-02", k=8)
    assert not set(again["ClientIP"]) & set(q["ClientIP"].head(3))
    assert set(q["ClientIP"].iloc[3:]) <= set(again["ClientIP"])
