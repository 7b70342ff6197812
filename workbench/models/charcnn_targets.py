"""Training targets of the char-CNN: labels as class masks, loss weights and the loss.

A label names one class of a head, or :data:`~workbench.models.charcnn.ANY_BAD` ("some
attack, type unknown": any class but the first), or is missing (unlabelled). Each row becomes
a mask of the classes its label allows; the loss is ``-log P(allowed classes)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from workbench.errors import InputError
from workbench.models.charcnn import ANY_BAD


def _is_unlabelled(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA


def target_masks(labels: Any, classes: Sequence[str], what: str) -> np.ndarray:
    """Turn labels into an ``(N, C)`` mask of allowed classes (all false = unlabelled)."""
    values = list(labels)
    mask = np.zeros((len(values), len(classes)), dtype=bool)
    index = {c: i for i, c in enumerate(classes)}
    unknown = set()
    for row, value in enumerate(values):
        if _is_unlabelled(value):
            continue
        value = str(value)
        if value == ANY_BAD:
            mask[row, 1:] = True
        elif value in index:
            mask[row, index[value]] = True
        else:
            unknown.add(value)
    if unknown:
        raise InputError(
            f"{what} has labels {sorted(unknown)}; expected {list(classes)}, {ANY_BAD!r} "
            "(any bad class) or None (unlabelled)"
        )
    return mask


def label_keys(mask: np.ndarray) -> np.ndarray:
    """One integer per row identifying its label (class index, C for 'any bad', -1 none)."""
    keys = np.where(mask.any(axis=1), mask.argmax(axis=1), -1)
    keys[mask.sum(axis=1) > 1] = mask.shape[1]
    return keys


def row_weights(mask: np.ndarray, class_weight: Any, classes: Sequence[str]) -> np.ndarray:
    """Per-row loss weights from the class-weight setting, computed on the training rows."""
    keys = label_keys(mask)
    weights = np.ones(len(mask), dtype=np.float32)
    labelled = keys >= 0
    if class_weight is None:
        pass
    elif class_weight in ("balanced", "sqrt"):
        present, counts = np.unique(keys[labelled], return_counts=True)
        per_key = labelled.sum() / (len(present) * counts)
        if class_weight == "sqrt":
            per_key = np.sqrt(per_key)
        for key, w in zip(present, per_key, strict=True):
            weights[keys == key] = w
    elif isinstance(class_weight, Mapping):
        names = [*classes, ANY_BAD]
        for key, name in enumerate(names):
            weights[keys == key] = float(class_weight.get(name, 1.0))
    else:
        raise InputError(
            f"class_weight must be 'balanced', 'sqrt', None or a mapping, not {class_weight!r}"
        )
    weights[~labelled] = 0.0
    return weights


def set_loss(logits: torch.Tensor, allowed: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Weighted mean of -log P(label), where a label may allow several classes."""
    labelled = allowed.any(dim=1)  # unlabelled rows are left out (no -inf, no NaN gradient)
    logits, allowed, weights = logits[labelled], allowed[labelled], weights[labelled]
    log_p_allowed = torch.logsumexp(logits.masked_fill(~allowed, float("-inf")), dim=1)
    loss = torch.logsumexp(logits, dim=1) - log_p_allowed  # (B,)
    return (loss * weights).sum() / weights.sum().clamp(min=1e-12)
