"""What the training jobs share: targets, the result record, evaluation, card parts.

* :data:`TARGET_PR_AUC`, :data:`TARGET_FPR_HUMANS`: the bot model's targets, and
  :func:`targets`, whether a test evaluation meets them.
* :class:`EntityTrainingResult`: what :func:`~workbench.models.train.train_tabular` and
  :func:`~workbench.models.train.train_anomaly` return.
* :func:`evaluate_entities` and :func:`comparison`: model against baseline on test entities.
* The parts of a saved entity model: ``features.json``, the card's data window and labels.
* :func:`prepare_out` (the model folder) and :func:`stages` (a progress bar of job steps).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from workbench.errors import InputError
from workbench.features.entity import window_parameters
from workbench.models.baselines import RuleBaseline
from workbench.models.entity_data import EntitySplit, label_targets_description, labelled
from workbench.models.metrics import evaluate_binary

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


def comparison(model: Mapping[str, Any], base: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return the headline metrics of the model and the baseline side by side."""
    keys = ("roc_auc", "pr_auc", "f1", "precision", "recall", "fpr_humans", "ece")
    return {
        k: {"model": model.get(k), "baseline": None if base is None else base.get(k)} for k in keys
    }


def targets(test: Mapping[str, Any]) -> dict[str, Any]:
    """Return the targets, the test values and whether each (and both) were met."""
    pr, fpr = test.get("pr_auc"), test.get("fpr_humans")
    pr_ok = pr is not None and pr >= TARGET_PR_AUC
    fpr_ok = fpr is not None and fpr <= TARGET_FPR_HUMANS
    return {
        "pr_auc": {"min": TARGET_PR_AUC, "value": pr, "met": pr_ok},
        "fpr_humans_at_score_below_30": {"max": TARGET_FPR_HUMANS, "value": fpr, "met": fpr_ok},
        "met": pr_ok and fpr_ok,
    }


def xy(frame: pd.DataFrame, names: Sequence[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """Return the feature columns ``names`` of a frame and its ``y`` targets."""
    return frame[list(names)], frame["y"].to_numpy(dtype=np.int8)


def check_sides(split: EntitySplit, need_labels: bool) -> dict[str, pd.DataFrame]:
    """Return the labelled entities of each side; raise if one lacks a class and must not."""
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


def labels_card(split: EntitySplit, label_rule: str) -> dict[str, Any]:
    """How the targets were made: the ground-truth rule, the source and analyst counts."""
    stats = dict(split.labels)
    source = stats.pop("source", "truth")
    return {**label_targets_description(label_rule, source=source), **stats}


def window_card(start: Any, end: Any, entity: str, split: EntitySplit) -> dict[str, Any]:
    """Return the card's data window: bounds, entity kind, split and entities per side."""
    window = window_parameters(start, end)
    return {
        "start": window["start"].isoformat(),
        "end": window["end"].isoformat(),
        "entity": entity,
        "split": split.how,
        **{name: len(side) for name, side in split.sides().items()},
    }


def prepare_out(out: str | Path | None, overwrite: bool) -> Path | None:
    """Return the model folder to write (None for none); refuse one that exists."""
    if out is None:
        return None
    folder = Path(out)
    if folder.exists() and not overwrite:
        raise InputError(f"model folder {folder} already exists (use overwrite / --overwrite)")
    return folder


def stages(progress: bool, total: int, desc: str) -> tqdm:
    """Return a progress bar over a job's ``total`` steps (disabled without ``progress``)."""
    return tqdm(total=total, desc=desc, unit="step", disable=not progress, leave=False)


def features_json(
    kind, names: Sequence[str], label_rule: str, source: str = "truth"
) -> dict[str, Any]:
    """Return ``features.json`` of an entity model: entity, keys, features, labels."""
    return {
        "kind": "entity_features",
        "entity": kind.name,
        "keys": list(kind.keys),
        "table": kind.table,
        "features": list(names),
        "window": "features over [start, end), UTC, computed by workbench.features",
        "labels": label_targets_description(label_rule, source=source),
    }
