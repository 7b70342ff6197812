"""Training jobs: features, leak-free split, fit, calibrate, evaluate, save.

Each job evaluates against a baseline fitted in the same run and saves a hashed model
folder.

* :func:`train_tabular`: LightGBM bot model (:class:`~workbench.models.tabular.TabularClassifier`).
* :func:`train_anomaly`: HBOS or Isolation Forest (:class:`~workbench.models.anomaly.AnomalyDetector`),
  fitted without labels; labels, where the data has them, evaluate (and calibrate if asked).

``metrics.json`` holds, for the model and the baseline on the test entities: ROC-AUC,
PR-AUC, F1, precision, recall and false-positive rate on humans at the product's threshold
(score below 30), recall per actor and per attack class, the reliability curve, expected
calibration error and the confusion matrix; the targets (PR-AUC >= 0.95 and FPR on humans
<= 0.5 % on campaigns never seen in training) with whether they were met.

The char-CNN's job, :func:`~workbench.models.train_cnn.train_charcnn`, is in
:mod:`workbench.models.train_cnn`; what the jobs share is in :mod:`workbench.models.train_common`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import InputError
from workbench.features import resolve_entity
from workbench.models.anomaly import AnomalyDetector, z_to_probability, z_to_score
from workbench.models.artifacts import ModelArtifact, load_model, save_model
from workbench.models.baselines import RuleBaseline
from workbench.models.entity_data import (
    DEFAULT_FRACTIONS,
    feature_columns,
    label_targets_description,
    split_training_frames,
)
from workbench.models.metrics import evaluate_binary, expected_calibration_error
from workbench.models.tabular import BOOSTER_FILE, TabularClassifier, compare_backends
from workbench.models.train_common import (
    EntityTrainingResult,
    check_sides,
    comparison,
    evaluate_entities,
    features_json,
    labels_card,
    prepare_out,
    stages,
    targets,
    window_card,
    xy,
)
from workbench.store.base import Store


# -- tabular -------------------------------------------------------------------------------
def train_tabular(
    store: Store,
    start: Any,
    end: Any,
    out: str | Path | None = None,
    *,
    entity: str = "ip",
    seed: int = 0,
    split: str = "campaign",
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    features: Sequence[str] | None = None,
    label_rule: str = "majority",
    labels: str = "truth",
    compare: bool = False,
    progress: bool = True,
    overwrite: bool = False,
    name: str | None = None,
    **params: Any,
) -> EntityTrainingResult:
    """Train the LightGBM bot model on entity features of a window; compare with rules.

    Parameters
    ----------
    store : Store
        Where ``http_requests`` (with ground truth ``label``, ``actor``, ``campaign``) is.
    start, end : datetime or ISO-8601 str
        Data window, UTC (``end`` exclusive).
    out : str or Path, optional
        Save the model folder there.
    entity : str, default "ip"
        Request entity kind (``ip``, ``ja4``, ``user_agent`` ...).
    seed : int, default 0
        Controls the split, bagging and column sampling.
    split : {"campaign", "time", "time_campaign", "random"}, default "campaign"
        See :mod:`workbench.models.entity_data`.
    fractions : sequence of float, default (0.6, 0.2, 0.2)
    features : sequence of str, optional
        Feature names (all of the entity's by default).
    label_rule : {"majority", "any"}, default "majority"
        When an entity counts as automated in the ground truth.
    labels : {"truth", "analyst", "both"}, default "truth"
        Target source: ``truth`` the ground-truth columns of ``http_requests``;
        ``analyst`` only entities with an analyst verdict in the ``labels`` table, ``y``
        from each one's latest verdict; ``both`` latest verdicts where there are any,
        ground truth elsewhere (see :func:`workbench.labels.apply_label_source`). The
        source and the analyst counts (used, overriding ground truth) are recorded in
        ``metrics["labels"]``, ``metrics["split"]["labels"]`` and the card.
    compare : bool, default False
        Also fit scikit-learn's HistGradientBoosting on the same split and record both
        libraries' fit time, predict latency and PR-AUC (``metrics["backends"]``).
    progress : bool, default True
        Progress bars on stderr.
    overwrite : bool, default False
        Replace an existing ``out`` folder.
    name : str, optional
        Model name in the card and the ``scores`` table (default: the folder name).
    **params
        More :class:`~workbench.models.tabular.TabularClassifier` settings.

    Returns
    -------
    EntityTrainingResult
        Model, baseline, metrics, split and folder.

    Raises
    ------
    InputError
        Bad arguments, no data, a side without both classes, or (``labels="analyst"``)
        too few analyst verdicts of a class.
    """
    folder = prepare_out(out, overwrite)
    kind = resolve_entity(entity)
    bar = stages(progress, 6, "train tabular")
    try:
        bar.set_postfix_str("features")
        sp = split_training_frames(
            store, kind, start, end, split, fractions, seed, features, label_rule, labels
        )
        bar.update(1)
        sides = check_sides(sp, need_labels=True)
        names = feature_columns(sp.train, kind.keys)
        X_tr, y_tr = xy(sides["train"], names)
        X_va, y_va = xy(sides["validation"], names)
        X_te, y_te = xy(sides["test"], names)
        bar.update(1)

        bar.set_postfix_str("fit")
        t0 = time.perf_counter()
        model = TabularClassifier(seed=seed, progress=progress, **params)
        model.fit(X_tr, y_tr, X_va, y_va)
        fit_seconds = time.perf_counter() - t0
        bar.update(1)

        bar.set_postfix_str("baseline")
        t0 = time.perf_counter()
        baseline = RuleBaseline().fit(X_tr, y_tr, X_va, y_va)
        base_seconds = time.perf_counter() - t0
        bar.update(1)

        bar.set_postfix_str("evaluate")
        t0 = time.perf_counter()
        p_raw = model.predict_bad_proba(X_te, calibrated=False)
        predict_seconds = time.perf_counter() - t0
        p_cal = model.calibrator_.predict_proba(p_raw)
        test = evaluate_entities(y_te, p_cal, model.calibrator_.score(p_raw), sides["test"])
        test["ece_uncalibrated"] = expected_calibration_error(y_te, p_raw)
        p_val = model.predict_bad_proba(X_va)
        validation = evaluate_binary(y_va, p_val, model.score_1_99(X_va))
        base_test = evaluate_entities(
            y_te, baseline.predict_bad_proba(X_te), baseline.score_1_99(X_te), sides["test"]
        )
        metrics: dict[str, Any] = {
            "task": f"automated vs human per {kind.name} entity; bot score 1-99 (1 = automated)",
            "labels": labels_card(sp, label_rule),
            "split": sp.describe(),
            "features": list(names),
            "model": {
                "library": "lightgbm",
                "fit_seconds": round(fit_seconds, 3),
                "best_iteration": model.best_iteration_,
                "predict_us_per_entity": round(1e6 * predict_seconds / max(len(X_te), 1), 2),
                "validation": {k: validation[k] for k in ("pr_auc", "roc_auc", "fpr", "ece")},
                "test": test,
            },
            "baseline": {
                "model": "learned one-feature rules, weighted vote, calibrated",
                "rules": baseline.describe(),
                "fit_seconds": round(base_seconds, 3),
                "test": base_test,
            },
        }
        metrics["comparison"] = comparison(test, base_test)
        metrics["targets"] = targets(test)
        if compare:
            metrics["backends"] = compare_backends(
                X_tr,
                y_tr,
                X_va,
                y_va,
                X_te,
                y_te,
                seed=seed,
                n_threads=model.lgb_params()["num_threads"],
            )
        bar.update(1)

        bar.set_postfix_str("save")
        if folder is not None:
            state = model.state()
            config = {**state["config"], "baseline": baseline.to_dict()}
            card = {
                "name": name or folder.name,
                "kind": "tabular",
                "task": metrics["task"],
                "data_window": window_card(start, end, kind.name, sp),
                "labels": {
                    k: v
                    for k, v in metrics["labels"].items()
                    if k in ("source", "rule", "analyst_labels", "overrode_truth")
                },
                "seed": seed,
            }
            save_model(
                folder,
                None,
                config,
                features_json(kind, names, label_rule, sp.labels.get("source", "truth")),
                metrics,
                card,
                extra_files={BOOSTER_FILE: state["model_text"]},
                overwrite=overwrite,
            )
        bar.update(1)
    finally:
        bar.close()
    return EntityTrainingResult(model, baseline, metrics, sp, folder)


# -- anomaly -------------------------------------------------------------------------------
def train_anomaly(
    store: Store,
    start: Any,
    end: Any,
    out: str | Path | None = None,
    *,
    detector: str = "iforest",
    entity: str = "ip",
    seed: int = 0,
    split: str = "campaign",
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    features: Sequence[str] | None = None,
    label_rule: str = "majority",
    progress: bool = True,
    overwrite: bool = False,
    name: str | None = None,
    **params: Any,
) -> EntityTrainingResult:
    """Fit an unsupervised detector on entity features; evaluate on labels if there are any.

    The detector is fitted on the training entities without their labels. When the window
    holds ground truth, the test entities are evaluated (at score below 30, and at the
    robust-z rule: the same thing with the default ``calibration="z"``; with
    ``calibration="isotonic"`` the score is first calibrated on the validation entities),
    next to the rule baseline; without ground truth (every entity is then training data)
    the metrics describe the anomalies found.

    Parameters
    ----------
    store : Store
    start, end : datetime or ISO-8601 str
    out : str or Path, optional
    detector : {"iforest", "hbos"}, default "iforest"
    entity : str, default "ip"
    seed : int, default 0
    split : {"campaign", "time", "time_campaign", "random"}, default "campaign"
    fractions : sequence of float, default (0.6, 0.2, 0.2)
    features : sequence of str, optional
    label_rule : {"majority", "any"}, default "majority"
    progress, overwrite : bool
    name : str, optional
    **params
        More :class:`~workbench.models.anomaly.AnomalyDetector` settings (``calibration``,
        ``z_threshold``, ``n_estimators`` ...).

    Returns
    -------
    EntityTrainingResult
        Model, baseline (None without labels), metrics, split and folder.
    """
    folder = prepare_out(out, overwrite)
    kind = resolve_entity(entity)
    bar = stages(progress, 5, f"train {detector}")
    try:
        bar.set_postfix_str("features")
        sp = split_training_frames(
            store, kind, start, end, split, fractions, seed, features, label_rule
        )
        names = feature_columns(sp.train, kind.keys)
        bar.update(1)
        sides = check_sides(sp, need_labels=False)
        has_labels = all(len(s) and s["y"].nunique() == 2 for s in sides.values())
        if not has_labels:  # unlabelled data: every entity of the window is training data
            train_rows = pd.concat([sp.train, sp.validation, sp.test], ignore_index=True)
        else:
            train_rows = sp.train

        bar.set_postfix_str("fit")
        t0 = time.perf_counter()
        model = AnomalyDetector(detector=detector, seed=seed, **params)
        if has_labels:
            X_va, y_va = xy(sides["validation"], names)
            model.fit(train_rows[names], X_va, y_va)
        else:
            model.fit(train_rows[names])
        fit_seconds = time.perf_counter() - t0
        bar.update(1)

        baseline = None
        metrics: dict[str, Any] = {
            "task": f"unsupervised {detector} on {kind.name} entity features; "
            f"anomalous when robust z > {model.z_threshold}",
            "labels": label_targets_description(label_rule) if has_labels else None,
            "split": sp.describe(),
            "features": list(names),
            "model": {
                "detector": detector,
                "fit_seconds": round(fit_seconds, 3),
                "train_entities": len(train_rows),
                "train_anomaly_share": round(model.train_anomaly_share_, 6),
                "robust": {"center": model.center_, "scale": model.scale_},
                "calibrated_on_labels": model.calibrator_ is not None,
            },
        }
        bar.set_postfix_str("evaluate")
        if has_labels:
            X_tr, y_tr = xy(sides["train"], names)
            X_te, y_te = xy(sides["test"], names)
            z = model.robust_z(X_te)
            test = evaluate_entities(
                y_te, model.predict_bad_proba(X_te), model.score_1_99(X_te), sides["test"]
            )
            rule = evaluate_entities(
                y_te,
                z_to_probability(z, model.z_threshold),
                z_to_score(z, model.z_threshold),
                sides["test"],
            )
            baseline = RuleBaseline().fit(X_tr, y_tr, X_va, y_va)
            base_test = evaluate_entities(
                y_te, baseline.predict_bad_proba(X_te), baseline.score_1_99(X_te), sides["test"]
            )
            metrics["model"]["test"] = test
            metrics["model"]["test_robust_z_rule"] = rule
            metrics["baseline"] = {
                "model": "learned one-feature rules, weighted vote, calibrated (uses labels)",
                "rules": baseline.describe(),
                "test": base_test,
            }
            metrics["comparison"] = comparison(test, base_test)
        else:
            z = model.robust_z(train_rows[names])
            metrics["model"]["anomalies"] = int((z > model.z_threshold).sum())
            metrics["model"]["z_quantiles"] = {
                str(q): round(float(np.quantile(z, q)), 4) for q in (0.5, 0.9, 0.99, 0.999)
            }
        bar.update(1)

        bar.set_postfix_str("save")
        if folder is not None:
            state = model.state()
            config = dict(state["config"])
            if baseline is not None:
                config["baseline"] = baseline.to_dict()
            card = {
                "name": name or folder.name,
                "kind": "anomaly",
                "task": metrics["task"],
                "data_window": window_card(start, end, kind.name, sp),
                "seed": seed,
            }
            save_model(
                folder,
                state["weights"],
                config,
                features_json(kind, names, label_rule),
                metrics,
                card,
                overwrite=overwrite,
            )
        bar.update(2)
    finally:
        bar.close()
    return EntityTrainingResult(model, baseline, metrics, sp, folder)


# -- loading ---------------------------------------------------------------------------------
def load_entity_model(folder: str | Path) -> tuple[Any, ModelArtifact]:
    """Load a saved tabular or anomaly model after checking every file's hash.

    Parameters
    ----------
    folder : str or Path
        A folder written by :func:`train_tabular` or :func:`train_anomaly`.

    Returns
    -------
    tuple
        ``(model, artifact)``: a fitted :class:`TabularClassifier` or
        :class:`AnomalyDetector`, and the verified :class:`ModelArtifact`.

    Raises
    ------
    ModelIntegrityError
        When a file changed since the model was saved.
    InputError
        When the folder holds another kind of model.
    """
    artifact = load_model(folder)
    kind = artifact.config.get("kind")
    if kind == "tabular":
        text = artifact.extra_files.get(BOOSTER_FILE)
        if text is None:
            raise InputError(f"{folder} lacks {BOOSTER_FILE}")
        return TabularClassifier.from_state(artifact.config, text), artifact
    if kind == "anomaly":
        weights = {k: v.numpy() for k, v in artifact.weights.items()}
        return AnomalyDetector.from_state(weights, artifact.config), artifact
    raise InputError(f"{folder} holds a {kind!r} model, not a tabular or anomaly model")
