"""Simulated-analyst learning curves: shape of the tidy frame, learning happens, figure."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.errors import InputError
from workbench.labels import STRATEGIES, experiment_from_store, run_experiment


def _blobs(n: int = 400, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    x = rng.normal(0, 1, (n, 5))
    x[:, 0] += 2.5 * y
    x[:, 1] -= 1.5 * y
    return x, y


def test_curves_are_tidy_and_learn() -> None:
    x, y = _blobs()
    result = run_experiment(x, y, seeds=(0, 1), initial=6, k=8, rounds=4)
    f = result.frame
    assert list(f.columns) == ["strategy", "seed", "round", "n_labels", "positives", "pr_auc"]
    assert len(f) == len(STRATEGIES) * 2 * 5
    assert sorted(f["n_labels"].unique()) == [6, 14, 22, 30, 38]
    assert f["pr_auc"].between(0, 1).all()
    start = f[f["round"] == 0].groupby("seed")["pr_auc"].nunique()
    assert (start == 1).all()  # every strategy starts from the same labels and model
    last = f[f["round"] == 4]
    assert last["pr_auc"].mean() > 0.8 > result.prevalence + 0.3
    summary = result.summary()
    assert set(summary["strategy"]) == set(STRATEGIES) and (summary["count"] == 2).all()
    fig = result.figure()
    assert {t.name for t in fig.data} == set(STRATEGIES)
    assert list(fig.data[0].x) == [6, 14, 22, 30, 38]
    assert "<table" in result._repr_html_()


def test_experiment_errors() -> None:
    x, y = _blobs(60)
    with pytest.raises(InputError, match="unknown strategy"):
        run_experiment(x, y, strategies=["entropy"])
    with pytest.raises(InputError, match="exceeds the pool"):
        run_experiment(x, y, initial=10, k=10, rounds=10)
    with pytest.raises(InputError, match="only 0"):
        run_experiment(x, np.where(y == 1, 2, 0))
    with pytest.raises(InputError, match="4 entities of each class"):
        run_experiment(x, np.r_[np.ones(2, int), np.zeros(58, int)])
    with pytest.raises(InputError, match="shape"):
        run_experiment(x, y[:-1])


def test_experiment_on_synthetic_traffic(embedded_store) -> None:
    from workbench.synth import write_traffic

    write_traffic(embedded_store, 20_000, days=1.0, seed=2, progress=False)
    result = experiment_from_store(
        embedded_store, "2026-11-01", "2026-11-02", seeds=(0,), rounds=3, k=10
    )
    f = result.frame
    assert len(f) == len(STRATEGIES) * 4 and 0 < result.prevalence < 1
    assert f.loc[f["round"] == 3, "pr_auc"].min() > result.prevalence
