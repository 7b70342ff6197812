"""Training jobs: features, leak-free split, fit, calibrate, evaluate, save.

Each job evaluates against a baseline fitted in the same run and saves a hashed model
folder.

* :func:`train_tabular`: LightGBM bot model (:class:`~workbench.models.tabular.TabularClassifier`).
* :func:`train_anomaly`: HBOS or Isolation Forest (:class:`~workbench.models.anomaly.AnomalyDetector`),
  fitted without labels; labels, where the data has them, evaluate (and calibrate if asked).
* :func:`train_charcnn`: the request-text CNN, on ``http_requests`` rows (bot head) or on
  HttpParamsDataset files (attack head), through :mod:`workbench.models.train_text`.

``metrics.json`` holds, for the model and the baseline on the test entities: ROC-AUC,
PR-AUC, F1, precision, recall and false-positive rate on humans at the product's threshold
(score below 30), recall per actor and per attack class, the reliability curve, expected
calibration error and the confusion matrix; the targets (PR-AUC >= 0.95 and FPR on humans
<= 0.5 % on campaigns never seen in training) with whether they were met.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from workbench.errors import InputError
from workbench.features import resolve_entity
from workbench.features.entity import window_parameters
from workbench.models.anomaly import AnomalyDetector, z_to_probability, z_to_score
from workbench.models.artifacts import ModelArtifact, load_model, save_model
from workbench.models.baselines import RuleBaseline
from workbench.models.entity_data import (
    DEFAULT_FRACTIONS,
    EntitySplit,
    feature_columns,
    label_targets_description,
    labelled,
    split_training_frames,
)
from workbench.models.metrics import evaluate_binary, expected_calibration_error
from workbench.models.tabular import BOOSTER_FILE, TabularClassifier, compare_backends
from workbench.store.base import Store

#: Targets of the bot model on campaigns never seen in training.
TARGET_PR_AUC = 0.95
TARGET_FPR_HUMANS = 0.005


@dataclass
class EntityTrainingResult:
    """What an entity training job returns.

    Attributes
    ----------
    model : TabularClassifier or AnomalyDetector
    baseline : RuleBaseline or None
        None when the data has no labels.
    metrics : dict
        Everything in ``metrics.json``.
    split : EntitySplit
    folder : Path or None
        The saved model folder.
    """

    model: Any
    baseline: RuleBaseline | None
    metrics: dict[str, Any]
    split: EntitySplit
    folder: Path | None = None


# -- evaluation ------------------------------------------------------------------------------
def evaluate_entities(
    y: np.ndarray,
    p_cal: np.ndarray,
    score: np.ndarray,
    frame: pd.DataFrame,
) -> dict[str, Any]:
    """Evaluate bot scores of labelled entities: overall, per actor, per attack class.

    Parameters
    ----------
    y : numpy.ndarray
        1 = automated, 0 = human.
    p_cal : numpy.ndarray
        Calibrated probability of automated.
    score : numpy.ndarray
        1–99 scores (flagged below 30).
    frame : pandas.DataFrame
        The entities (``actor``, ``attack_class`` columns).

    Returns
    -------
    dict
        :func:`~workbench.models.metrics.evaluate_binary` output plus ``fpr_humans``,
        ``per_actor`` and ``per_attack_class`` (recall and flag rate per group).
    """
    out = evaluate_binary(y, p_cal, score)
    out["fpr_humans"] = out["fpr"]
    out["per_actor"] = evaluate_binary(y, p_cal, score, groups=frame["actor"])["per_group"]
    classes = frame["attack_class"].replace("", "none")
    out["per_attack_class"] = evaluate_binary(y, p_cal, score, groups=classes)["per_group"]
    return out


def _comparison(model: Mapping[str, Any], base: Mapping[str, Any] | None) -> dict[str, Any]:
    keys = ("roc_auc", "pr_auc", "f1", "precision", "recall", "fpr_humans", "ece")
    return {
        k: {"model": model.get(k), "baseline": None if base is None else base.get(k)} for k in keys
    }


def _targets(test: Mapping[str, Any]) -> dict[str, Any]:
    pr, fpr = test.get("pr_auc"), test.get("fpr_humans")
    pr_ok = pr is not None and pr >= TARGET_PR_AUC
    fpr_ok = fpr is not None and fpr <= TARGET_FPR_HUMANS
    return {
        "pr_auc": {"min": TARGET_PR_AUC, "value": pr, "met": pr_ok},
        "fpr_humans_at_score_below_30": {"max": TARGET_FPR_HUMANS, "value": fpr, "met": fpr_ok},
        "met": pr_ok and fpr_ok,
    }


def _xy(frame: pd.DataFrame, names: Sequence[str]) -> tuple[pd.DataFrame, np.ndarray]:
    return frame[list(names)], frame["y"].to_numpy(dtype=np.int8)


def _check_sides(split: EntitySplit, need_labels: bool) -> dict[str, pd.DataFrame]:
    sides = {name: labelled(side) for name, side in split.sides().items()}
    source = split.labels.get("source", "truth")
    hint = (
        "label more entities of each class, or use split='random'"
        if source == "analyst"
        else "widen the window, or use another split"
    )
    if need_labels:
        for name, side in sides.items():
            if side.empty or side["y"].nunique() < 2:
                raise InputError(
                    f"the {name} entities of the {split.how} split (labels={source!r}) hold "
                    f"{int((side['y'] == 1).sum())} automated and "
                    f"{int((side['y'] == 0).sum())} human entities; each side needs both "
                    f"({hint})"
                )
    return sides


def _labels_card(split: EntitySplit, label_rule: str) -> dict[str, Any]:
    """How the targets were made: the ground-truth rule, the source and analyst counts."""
    stats = dict(split.labels)
    source = stats.pop("source", "truth")
    return {**label_targets_description(label_rule, source=source), **stats}


def _window_card(start: Any, end: Any, entity: str, split: EntitySplit) -> dict[str, Any]:
    window = window_parameters(start, end)
    return {
        "start": window["start"].isoformat(),
        "end": window["end"].isoformat(),
        "entity": entity,
        "split": split.how,
        **{name: len(side) for name, side in split.sides().items()},
    }


def _prepare_out(out: str | Path | None, overwrite: bool) -> Path | None:
    if out is None:
        return None
    folder = Path(out)
    if folder.exists() and not overwrite:
        raise InputError(f"model folder {folder} already exists (use overwrite / --overwrite)")
    return folder


def _stages(progress: bool, total: int, desc: str) -> tqdm:
    return tqdm(total=total, desc=desc, unit="step", disable=not progress, leave=False)


def _features_json(
    kind, names: Sequence[str], label_rule: str, source: str = "truth"
) -> dict[str, Any]:
    return {
        "kind": "entity_features",
        "entity": kind.name,
        "keys": list(kind.keys),
        "table": kind.table,
        "features": list(names),
        "window": "features over [start, end), UTC, computed by workbench.features",
        "labels": label_targets_description(label_rule, source=source),
    }


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
    folder = _prepare_out(out, overwrite)
    kind = resolve_entity(entity)
    bar = _stages(progress, 6, "train tabular")
    try:
        bar.set_postfix_str("features")
        sp = split_training_frames(
            store, kind, start, end, split, fractions, seed, features, label_rule, labels
        )
        bar.update(1)
        sides = _check_sides(sp, need_labels=True)
        names = feature_columns(sp.train, kind.keys)
        X_tr, y_tr = _xy(sides["train"], names)
        X_va, y_va = _xy(sides["validation"], names)
        X_te, y_te = _xy(sides["test"], names)
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
            "labels": _labels_card(sp, label_rule),
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
        metrics["comparison"] = _comparison(test, base_test)
        metrics["targets"] = _targets(test)
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
                "data_window": _window_card(start, end, kind.name, sp),
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
                _features_json(kind, names, label_rule, sp.labels.get("source", "truth")),
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
    folder = _prepare_out(out, overwrite)
    kind = resolve_entity(entity)
    bar = _stages(progress, 5, f"train {detector}")
    try:
        bar.set_postfix_str("features")
        sp = split_training_frames(
            store, kind, start, end, split, fractions, seed, features, label_rule
        )
        names = feature_columns(sp.train, kind.keys)
        bar.update(1)
        sides = _check_sides(sp, need_labels=False)
        has_labels = all(len(s) and s["y"].nunique() == 2 for s in sides.values())
        if not has_labels:  # unlabelled data: every entity of the window is training data
            train_rows = pd.concat([sp.train, sp.validation, sp.test], ignore_index=True)
        else:
            train_rows = sp.train

        bar.set_postfix_str("fit")
        t0 = time.perf_counter()
        model = AnomalyDetector(detector=detector, seed=seed, **params)
        if has_labels:
            X_va, y_va = _xy(sides["validation"], names)
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
            X_tr, y_tr = _xy(sides["train"], names)
            X_te, y_te = _xy(sides["test"], names)
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
            metrics["comparison"] = _comparison(test, base_test)
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
                "data_window": _window_card(start, end, kind.name, sp),
                "seed": seed,
            }
            save_model(
                folder,
                state["weights"],
                config,
                _features_json(kind, names, label_rule),
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


# -- the char-CNN ----------------------------------------------------------------------------
#: ``http_requests`` columns the CNN's request text and evaluation need.
CNN_COLUMNS = (
    "RayID",
    "EdgeStartTimestamp",
    "ClientRequestMethod",
    "ClientRequestPath",
    "ClientRequestQuery",
    "RequestBody",
    "ClientRequestUserAgent",
    "RequestHeaders",
    "label",
    "actor",
    "attack_class",
    "Source",
)


def request_sample(
    store: Store, start: Any, end: Any, max_rows: int, seed: int = 0, label_column: str = "label"
) -> pd.DataFrame:
    """Return up to ``max_rows`` labelled requests of a window, a deterministic hash sample.

    Rows are ordered by ``sipHash64(RayID, seed)``: the same seed gives the same rows. Only
    rows with a ground-truth ``label`` are taken; ``label_column`` must be among
    :data:`CNN_COLUMNS`.

    Raises
    ------
    InputError
        When no labelled request is in the window.
    """
    from workbench.store.identifiers import check_identifier

    if int(max_rows) < 1:
        raise InputError(f"max_rows must be positive, got {max_rows}")
    if label_column not in CNN_COLUMNS:
        raise InputError(f"label column {label_column!r} is not one of {CNN_COLUMNS}")
    cols = ", ".join(check_identifier(c) for c in CNN_COLUMNS)
    # rows of labelled sources only: an unlabelled source's empty attack_class is no "clean"
    where = (
        "EdgeStartTimestamp >= {start:DateTime64(3, 'UTC')} "
        "AND EdgeStartTimestamp < {end:DateTime64(3, 'UTC')} AND label != ''"
    )
    sql = (
        f"SELECT {cols} FROM http_requests WHERE {where} "  # noqa: S608 - checked names
        "ORDER BY sipHash64(RayID, {seed:UInt64}) LIMIT {n:UInt64}"
    )
    params = {**window_parameters(start, end), "seed": int(seed), "n": int(max_rows)}
    rows = store.query_df(sql, params)
    if rows.empty:
        raise InputError("no labelled requests in the window; load data or widen the window")
    return rows.sort_values("EdgeStartTimestamp", kind="stable").reset_index(drop=True)


def train_charcnn(
    out: str | Path,
    *,
    head: str = "bot",
    store: Store | None = None,
    start: Any = None,
    end: Any = None,
    http_params: str | Path | None = None,
    seed: int = 0,
    max_rows: int = 60_000,
    split: str = "time",
    progress: bool = True,
    overwrite: bool = False,
    **cnn_params: Any,
):
    """Train the char-CNN: bot head on stored requests, or attack head on HttpParamsDataset.

    Parameters
    ----------
    out : str or Path
        Model folder.
    head : {"bot", "attack"}, default "bot"
        ``bot``: ``http_requests`` rows of ``[start, end)`` labelled human / automated.
        ``attack``: the HttpParamsDataset ``payload_train.csv`` / ``payload_test.csv`` in
        ``http_params`` when given, else stored requests by ``attack_class``.
    store : Store, optional
        Needed for stored requests.
    start, end : datetime or ISO-8601 str, optional
        Window of stored requests.
    http_params : str or Path, optional
        Folder of the HttpParamsDataset CSV files.
    seed : int, default 0
    max_rows : int, default 60000
        Stored requests sampled (deterministic hash sample) for training.
    split : {"time", "random"}, default "time"
        Split of stored requests (see :func:`~workbench.models.train_text.train_request_classifier`).
    progress, overwrite : bool
    **cnn_params
        More :class:`~workbench.models.charcnn.CharCNNClassifier` settings.

    Returns
    -------
    workbench.models.train_text.TextTrainingResult
        The CNN, its baseline, metrics and folder.
    """
    from workbench.models.train_text import train_payload_classifier, train_request_classifier

    folder = _prepare_out(out, overwrite)
    if head not in ("bot", "attack"):
        raise InputError(f"head must be 'bot' or 'attack', not {head!r}")
    if head == "attack" and http_params is not None:
        base = Path(http_params)
        train_csv, test_csv = base / "payload_train.csv", base / "payload_test.csv"
        return train_payload_classifier(
            train_csv, test_csv, folder, seed=seed, progress=progress, **cnn_params
        )
    if store is None or start is None or end is None:
        raise InputError("training on stored requests needs a store, --start and --end")
    label_column = "label" if head == "bot" else "attack_class"
    rows = request_sample(store, start, end, max_rows, seed, label_column)
    return train_request_classifier(
        rows,
        label_col=label_column,
        head=head,
        out_dir=folder,
        seed=seed,
        split=split,
        progress=progress,
        **cnn_params,
    )
