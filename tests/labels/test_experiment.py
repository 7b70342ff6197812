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


def test_headline_reads_the_curves() -> None:
    import pandas as pd

    from workbench.labels.experiment import LearningCurves

    rows = [
        # strategy, seed, round, n_labels, positives, pr_auc
        ("uncertainty", 0, 0, 10, 3, 0.50), ("uncertainty", 0, 1, 20, 6, 0.97),
        ("uncertainty", 1, 0, 10, 3, 0.60), ("uncertainty", 1, 1, 20, 6, 0.93),
        ("random", 0, 0, 10, 3, 0.50), ("random", 0, 1, 20, 6, 0.80),
        ("random", 1, 0, 10, 3, 0.60), ("random", 1, 1, 20, 6, 0.90),
    ]  # fmt: skip
    curves = LearningCurves(
        frame=pd.DataFrame(
            rows, columns=["strategy", "seed", "round", "n_labels", "positives", "pr_auc"]
        ),  # fmt: skip
        prevalence=0.3,
        full=pd.DataFrame({"seed": [0, 1], "n_labels": [100, 100], "pr_auc": [0.99, 0.97]}),
    )
    table = curves.table()
    assert list(table.columns) == ["n_labels", "uncertainty", "random"]
    assert table["uncertainty"].tolist() == pytest.approx([0.55, 0.95])
    assert curves.full_pr_auc == pytest.approx(0.98)
    # 0.95 * 0.98 = 0.931: uncertainty reaches it at 20 labels, random never does
    assert curves.labels_to_reach() == {"uncertainty": 20, "random": None}
    head = curves.headline()
    assert head["best_strategy"] == "uncertainty" and head["labels_to_reach"] == 20
    assert head["label_budget"] == 20 and head["full_pr_auc"] == 0.98
    assert head["pr_auc_at_budget"] == {"uncertainty": 0.95, "random": 0.85}
    # nobody reaches the share: the best is the highest PR-AUC at the budget
    none = curves.headline(share=1.0)
    assert none["labels_to_reach"] is None and none["best_strategy"] == "uncertainty"
    fig = curves.figure()
    assert len(fig.layout.shapes) == 2  # chance and full-data lines


def test_full_data_reference_is_recorded() -> None:
    x, y = _blobs()
    result = run_experiment(x, y, seeds=(0, 1), initial=6, k=8, rounds=2)
    assert list(result.full.columns) == ["seed", "n_labels", "pr_auc"]
    assert result.full["seed"].tolist() == [0, 1] and (result.full["n_labels"] == 280).all()
    assert result.full_pr_auc > result.prevalence + 0.3


def test_model_report_notes_when_curves_cannot_be_made(warehouse, tmp_path) -> None:
    """A report without curves shows why, never fails; the curves match the experiment."""
    from tests.conftest import make_embedded_store
    from workbench.models.train import train_tabular
    from workbench.reporting.model_report import model_report
    from workbench.synth import write_traffic

    data, empty = make_embedded_store(warehouse), make_embedded_store(warehouse)
    try:
        write_traffic(data, 20_000, days=1.0, seed=5, progress=False)
        folder = tmp_path / "bot"
        train_tabular(data, "2026-11-01", "2026-11-02", folder, split="random", progress=False,
                      n_estimators=40, min_child_samples=5)  # fmt: skip
        expected = experiment_from_store(data, "2026-11-01", "2026-11-02", seeds=(0,), rounds=2)
        report = model_report(folder, store=data, curve_seeds=1, curve_rounds=2)
        assert report.curves is not None and "entities of the model's window" in report.curves_note
        assert report.curves.headline() == expected.headline()
        # the split's rows are reused for a campaign split too: the same curves
        train_tabular(data, "2026-11-01", "2026-11-02", tmp_path / "campaign", progress=False,
                      n_estimators=40, min_child_samples=5)  # fmt: skip
        by_campaign = model_report(tmp_path / "campaign", store=data, curve_seeds=1, curve_rounds=2)
        assert by_campaign.curves.frame.equals(expected.frame)
        assert "Active learning" in report.learning_curve_figure().layout.title.text
        assert "<table" in str(report.learning_curve_table())
        assert "Best strategy" in str(report.learning_curve_headline())
        too_big = model_report(folder, store=data, curve_seeds=1, curve_rounds=1000)
        assert too_big.curves is None and "exceeds the pool" in too_big.curves_note
        assert "No learning curves" in str(too_big.learning_curve_figure())
        off = model_report(folder, store=data, learning_curves=False)
        assert off.curves is None and "not asked for" in str(off.learning_curve_table())
        gone = model_report(folder, store=empty)
        assert gone.curves is None and gone.test is None
        assert "could not be read from the store" in gone.curves_note
        assert "No learning curves" in str(gone.learning_curve_headline())
    finally:
        data.close()
        empty.close()
