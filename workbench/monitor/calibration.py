"""Calibration drift: whether a model's probability still means what it says.

For each model version, :func:`calibration_drift` compares the expected calibration error
(ECE) and the reliability curve of a reference and a current window, from labelled scores
counted in ClickHouse (:func:`~workbench.monitor.performance.labelled_counts`, so labels
that arrive late count once they are known). A model whose probabilities were honest on the
reference and are overconfident now needs recalibrating, even if its ranking (PR-AUC) held.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import InputError
from workbench.monitor.performance import BAD_SCORE_THRESHOLD, labelled_counts, summarize_counts
from workbench.monitor.sources import Window, as_window
from workbench.monitor.stats import worst
from workbench.store.base import Store


@dataclass(frozen=True)
class CalibrationThresholds:
    """How much worse the expected calibration error may get before it is flagged.

    Attributes
    ----------
    minor : float, default 0.05
        Rise of the ECE beyond chance (current minus reference, see
        :func:`calibration_drift`) at or above this is ``minor``.
    major : float, default 0.10
        Rise above this is ``major``.
    min_labels : int, default 100
        Fewer labelled rows in either window: too little evidence, severity ``none``.
    """

    minor: float = 0.05
    major: float = 0.10
    min_labels: int = 100

    def __post_init__(self) -> None:
        if not 0 < self.minor <= self.major:
            raise InputError("calibration thresholds must satisfy 0 < minor <= major")
        if self.min_labels < 1:
            raise InputError("min_labels must be at least 1")


@dataclass
class CalibrationReport:
    """Calibration of each model version in a reference and a current window.

    Attributes
    ----------
    reference, current : Window
        The windows.
    results : pandas.DataFrame
        One row per model version: ``model``, ``version``, ``labelled_reference``,
        ``labelled_current``, ``ece_reference``, ``ece_current``, ``ece_noise_reference``,
        ``ece_noise_current``, ``ece_delta`` and ``severity``.
    curves : pandas.DataFrame
        Reliability curves: ``model``, ``version``, ``window``, ``lower``, ``upper``,
        ``count``, ``mean_predicted``, ``fraction_bad``.
    notes : list of str
        Things to know when reading the result.
    """

    reference: Window
    current: Window
    results: pd.DataFrame
    curves: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """The worst severity over every model version."""
        return worst(list(self.results["severity"])) if len(self.results) else "none"


def _curve(group: pd.DataFrame, n_bins: int) -> pd.DataFrame:
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    by_bin = group.groupby("pbin")[["labelled", "positives", "p_sum"]].sum()
    by_bin = by_bin[by_bin["labelled"] > 0]
    return pd.DataFrame(
        {
            "lower": edges[by_bin.index.to_numpy(dtype=int)],
            "upper": edges[by_bin.index.to_numpy(dtype=int) + 1],
            "count": by_bin["labelled"].to_numpy(dtype=np.int64),
            "mean_predicted": (by_bin["p_sum"] / by_bin["labelled"]).to_numpy(),
            "fraction_bad": (by_bin["positives"] / by_bin["labelled"]).to_numpy(),
        }
    )


def calibration_drift(
    store: Store,
    reference: Window | Sequence[Any],
    current: Window | Sequence[Any],
    model: str | None = None,
    version: str | None = None,
    truth: str = "labels",
    target: str = "bot",
    as_of: Any = None,
    n_bins: int = 10,
    thresholds: CalibrationThresholds | None = None,
) -> CalibrationReport:
    """Compare each model version's calibration (ECE, reliability) between two windows.

    Parameters
    ----------
    store : Store
        Where the tables are.
    reference, current : Window or (start, end)
        The windows (on the scored events' time).
    model, version : str, optional
        Only this model / version.
    truth, target, as_of, n_bins
        As for :func:`~workbench.monitor.performance.performance_over_time`.
    thresholds : CalibrationThresholds, optional
        ECE rise for minor (0.05) and major (0.10), and the labels needed (100).

    Returns
    -------
    CalibrationReport
        ECE per window, its rise and severity per model version, reliability curves.

    Notes
    -----
    The ECE of a perfectly calibrated model is not 0 on a finite sample, and it is larger
    the fewer the labels, which is the usual state of the current window when labels arrive
    late. Each window's ECE is therefore taken beyond chance, ``max(ece - ece_noise, 0)``
    (see :func:`~workbench.monitor.performance.summarize_counts`), and ``ece_delta`` is the
    rise of that between the windows.
    """
    reference = as_window(reference, "reference")
    current = as_window(current, "current")
    t = thresholds or CalibrationThresholds()
    counts = {
        name: labelled_counts(
            store, w.start, w.end, model, version, truth, target, as_of, None, n_bins
        )
        for name, w in (("reference", reference), ("current", current))
    }
    keys = sorted(
        {
            (m, v)
            for frame in counts.values()
            for m, v in zip(frame["model"], frame["version"], strict=True)
        }
    )
    rows, curves, notes = [], [], []
    for m, v in keys:
        row: dict[str, Any] = {"model": m, "version": v}
        for name, frame in counts.items():
            group = frame[(frame["model"] == m) & (frame["version"] == v)]
            summary = summarize_counts(group, BAD_SCORE_THRESHOLD) if len(group) else None
            row[f"labelled_{name}"] = summary["labelled"] if summary else 0
            row[f"ece_{name}"] = summary["ece"] if summary else float("nan")
            row[f"ece_noise_{name}"] = summary["ece_noise"] if summary else float("nan")
            if len(group):
                curve = _curve(group, n_bins)
                curve.insert(0, "window", name)
                curve.insert(0, "version", v)
                curve.insert(0, "model", m)
                curves.append(curve)
        beyond = {
            name: max(row[f"ece_{name}"] - row[f"ece_noise_{name}"], 0.0)
            for name in ("reference", "current")
        }
        row["ece_delta"] = beyond["current"] - beyond["reference"]
        enough = min(row["labelled_reference"], row["labelled_current"]) >= t.min_labels
        if not enough:
            notes.append(
                f"model {m} version {v}: fewer than {t.min_labels} labelled rows in a window "
                f"({row['labelled_reference']} and {row['labelled_current']}); not judged"
            )
        delta = row["ece_delta"]
        if not enough or not np.isfinite(delta) or delta < t.minor:
            row["severity"] = "none"
        else:
            row["severity"] = "major" if delta > t.major else "minor"
        rows.append(row)
    columns = [
        "model", "version", "labelled_reference", "labelled_current", "ece_reference",
        "ece_current", "ece_noise_reference", "ece_noise_current", "ece_delta", "severity",
    ]  # fmt: skip
    curve_columns = ["model", "version", "window", "lower", "upper", "count",
                     "mean_predicted", "fraction_bad"]  # fmt: skip
    return CalibrationReport(
        reference=reference,
        current=current,
        results=pd.DataFrame(rows, columns=columns),
        curves=pd.concat(curves, ignore_index=True)
        if curves
        else pd.DataFrame(columns=curve_columns),
        notes=notes,
    )
