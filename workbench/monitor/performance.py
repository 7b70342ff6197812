"""Model performance over time as labels arrive late, and calibration drift between windows.

Scores are written when traffic is scored; labels come later (an analyst's verdict days
after the request, ground truth in synthetic data). Everything here joins the ``scores``
table with what is known *as of* a time and aggregates in ClickHouse to counts per
(model, version, period, score, probability bin), a few thousand rows whatever the traffic;
the metrics are computed from those counts:

* ``coverage``: share of scored rows with a usable label (late labels: recent days are
  low and rise as verdicts come in);
* ``pr_auc``: average precision of the 1–99 score (low score = bad), ties within one score
  value treated as scikit-learn treats ties, so it equals
  ``average_precision_score(y, -score)`` on the labelled rows;
* ``precision`` and ``recall`` at the product's operating point (score below 30), and
  ``flag_rate`` over *all* scored rows (known without labels);
* ``ece``: expected calibration error of ``Probability`` over equal-width bins, binned as
  :func:`workbench.models.expected_calibration_error` bins, and ``ece_noise``, what a
  perfectly calibrated model would show on the same rows by chance (ECE grows as labels
  get fewer, so a day with few labels is not miscalibrated for that alone).

Labels come from the ``labels`` table (``truth="labels"``: the latest verdict per request
``RayID``, else per ``(EntityType, Entity)`` of the score row, given at or before ``as_of``;
verdicts are read through :data:`POSITIVE_VERDICTS` / :data:`NEGATIVE_VERDICTS`) or from the
ground truth of synthetic ``http_requests`` rows (``truth="ground_truth"``, joined on RayID).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import InputError
from workbench.features.entity import to_utc
from workbench.monitor.sources import Window
from workbench.store.base import Store

#: Scores below this are flagged: the product's operating point, as
#: ``workbench.models.calibration.BAD_SCORE_THRESHOLD`` (not imported: that pulls in torch).
BAD_SCORE_THRESHOLD = 30
#: Verdicts that make a row positive for the model (automated for a bot model, an attack
#: for an attack model). ``good_bot`` is automated traffic, so positive for the bot score.
POSITIVE_VERDICTS = (
    "bad", "bad_bot", "good_bot", "bot", "automated", "attack", "malicious", "anomalous",
    "true_positive", "fraud",
)  # fmt: skip
#: Verdicts that make a row negative (human, clean).
NEGATIVE_VERDICTS = ("good", "human", "benign", "clean", "normal", "false_positive")
#: Ground-truth targets of synthetic traffic: what is positive.
TARGETS = {"bot": "h.label != 'human'", "attack": "h.attack_class != ''"}
TRUTHS = ("labels", "ground_truth")
#: Time buckets for performance over time: name to ClickHouse function.
BUCKETS = {"hour": "toStartOfHour", "day": "toStartOfDay", "week": "toMonday"}
#: Columns of :func:`performance_over_time`.
PERFORMANCE_COLUMNS = (
    "model", "version", "period", "scored", "labelled", "coverage", "positives", "flag_rate",
    "pr_auc", "precision", "recall", "ece", "ece_noise",
)  # fmt: skip

_WINDOW = "s.EventTime >= {start:DateTime64(3, 'UTC')} AND s.EventTime < {end:DateTime64(3, 'UTC')}"
_FILTER = (
    "({model:String} = '' OR s.Model = {model:String}) "
    "AND ({version:String} = '' OR s.Version = {version:String})"
)


def _probability_bin(n_bins: int) -> str:
    """Bin of ``s.Probability`` among equal-width bins: inner edges strictly below it."""
    terms = " + ".join(f"(s.Probability > _pe[{j}])" for j in range(1, n_bins))
    return f"toUInt8({terms})" if n_bins > 1 else "toUInt8(0)"


def _labels_join() -> tuple[str, str]:
    """Join the latest verdict known at ``as_of``: per RayID, else per (EntityType, Entity)."""
    joins = (
        "LEFT JOIN (\n"
        "    SELECT RayID, argMax(toString(Verdict), LabelTime) AS verdict FROM labels\n"
        "    WHERE RayID != '' AND LabelTime <= {as_of:DateTime64(3, 'UTC')} GROUP BY RayID\n"
        ") AS lr ON s.RayID = lr.RayID\n"
        "LEFT JOIN (\n"
        "    SELECT toString(EntityType) AS EntityType, Entity,\n"
        "           argMax(toString(Verdict), LabelTime) AS verdict FROM labels\n"
        "    WHERE RayID = '' AND LabelTime <= {as_of:DateTime64(3, 'UTC')}\n"
        "    GROUP BY EntityType, Entity\n"
        ") AS le ON toString(s.EntityType) = le.EntityType AND s.Entity = le.Entity"
    )
    verdict = "lower(if(lr.verdict != '', lr.verdict, le.verdict))"
    label = (
        f"multiIf(has({{positive:Array(String)}}, {verdict}), 1, "
        f"has({{negative:Array(String)}}, {verdict}), 0, -1)"
    )
    return joins, label


def _truth_join(target: str) -> tuple[str, str]:
    # ANY: a RayID seen twice (a re-loaded file) still labels its score once
    joins = (
        "ANY LEFT JOIN (\n"
        "    SELECT RayID, label, attack_class FROM http_requests\n"
        "    WHERE EdgeStartTimestamp >= {start:DateTime64(3, 'UTC')}\n"
        "      AND EdgeStartTimestamp < {end:DateTime64(3, 'UTC')}\n"
        ") AS h ON s.RayID = h.RayID"
    )
    return joins, f"if(h.RayID = '', -1, toInt8({TARGETS[target]}))"


def labelled_counts(
    store: Store,
    start: Any,
    end: Any,
    model: str | None = None,
    version: str | None = None,
    truth: str = "labels",
    target: str = "bot",
    as_of: Any = None,
    bucket: str | None = "day",
    n_bins: int = 10,
    positive: Sequence[str] = POSITIVE_VERDICTS,
    negative: Sequence[str] = NEGATIVE_VERDICTS,
) -> pd.DataFrame:
    """Return scored and labelled counts per (model, version, period, score, probability bin).

    Parameters
    ----------
    store : Store
        Where ``scores`` (and ``labels`` or ``http_requests``) are.
    start, end : datetime or ISO-8601 str
        Scored events in ``[start, end)`` (on ``EventTime``), UTC.
    model, version : str, optional
        Only this model / version.
    truth : {"labels", "ground_truth"}, default "labels"
        Where labels come from (see the module docstring).
    target : {"bot", "attack"}, default "bot"
        What is positive in ground truth (``truth="ground_truth"`` only).
    as_of : datetime or str, optional
        Use only labels given at or before this time (default: now).
    bucket : {"hour", "day", "week"} or None, default "day"
        Period of each row; ``None`` for the whole window (period = ``start``).
    n_bins : int, default 10
        Equal-width probability bins for calibration.
    positive, negative : sequence of str
        Verdicts read as positive / negative (case-insensitive); others are unlabelled.

    Returns
    -------
    pandas.DataFrame
        ``model``, ``version``, ``period``, ``Score``, ``pbin``, ``n`` (scored),
        ``labelled``, ``positives``, ``p_sum`` and ``p2_sum`` (sums of the probabilities and
        of their squares over labelled rows).

    Raises
    ------
    InputError
        When an option is unknown or the window is empty.
    """
    window = Window.of(start, end, "performance window")
    if truth not in TRUTHS:
        raise InputError(f"truth must be one of {', '.join(TRUTHS)}, got {truth!r}")
    if target not in TARGETS:
        raise InputError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
    if bucket is not None and bucket not in BUCKETS:
        raise InputError(f"bucket must be one of {', '.join(BUCKETS)}, got {bucket!r}")
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or not 1 <= n_bins <= 100:
        raise InputError(f"n_bins must be an integer from 1 to 100, got {n_bins!r}")
    if version and not model:
        raise InputError("a version needs its model")
    when = dt.datetime.now(dt.UTC) if as_of is None else to_utc(as_of, "as_of")
    params: dict[str, Any] = {
        "start": window.start,
        "end": window.end,
        "model": model or "",
        "version": version or "",
        "as_of": when,
        "positive": [str(v).lower() for v in positive],
        "negative": [str(v).lower() for v in negative],
        "_pe": [float(e) for e in np.linspace(0.0, 1.0, n_bins + 1)[1:-1]],
    }
    if truth == "labels":
        joins, label = _labels_join()
    else:
        joins, label = _truth_join(target)
    period = (
        f"{BUCKETS[bucket]}(s.EventTime)"
        if bucket
        else "toDateTime64({start:DateTime64(3, 'UTC')}, 3, 'UTC')"
    )
    pe = "{_pe:Array(Float64)} AS _pe" if n_bins > 1 else "[] AS _pe"
    sql = (
        f"WITH {pe}\n"  # noqa: S608 - constant names; every value is bound
        "SELECT model, version, period, Score, pbin, count() AS n,\n"
        "       countIf(y >= 0) AS labelled, countIf(y = 1) AS positives,\n"
        "       sumIf(p, y >= 0) AS p_sum, sumIf(p * p, y >= 0) AS p2_sum\n"
        "FROM (\n"
        "  SELECT toString(s.Model) AS model, toString(s.Version) AS version,\n"
        f"         toDateTime64({period}, 3, 'UTC') AS period, s.Score AS Score,\n"
        f"         s.Probability AS p, {_probability_bin(n_bins)} AS pbin, {label} AS y\n"
        f"  FROM scores AS s\n{joins}\n"
        f"  WHERE {_WINDOW} AND {_FILTER}\n"
        ")\n"
        "GROUP BY model, version, period, Score, pbin\n"
        "ORDER BY model, version, period, Score, pbin"
    )
    return store.query_df(sql, params)


def average_precision_from_counts(scores: Any, positives: Any, negatives: Any) -> float:
    """Return the average precision of a low-is-bad score from counts per score value.

    Parameters
    ----------
    scores : array-like
        Distinct score values (any order).
    positives, negatives : array-like
        Labelled positive and negative rows at each score value.

    Returns
    -------
    float
        ``sum_k (R_k - R_{k-1}) P_k`` over thresholds ``score <= s_k`` taken from the lowest
        score up; NaN without positives. Equals scikit-learn's
        ``average_precision_score(y, -score)``.
    """
    s = np.asarray(scores, dtype=np.float64)
    pos = np.asarray(positives, dtype=np.float64)
    neg = np.asarray(negatives, dtype=np.float64)
    order = np.argsort(s, kind="stable")
    tp = np.cumsum(pos[order])
    fp = np.cumsum(neg[order])
    total = tp[-1] if tp.size else 0.0
    if total <= 0:
        return float("nan")
    keep = (tp + fp) > 0
    precision = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=keep)
    recall = tp / total
    steps = np.diff(np.concatenate([[0.0], recall]))
    return float(np.sum(steps * precision))


def summarize_counts(group: pd.DataFrame, threshold: int = BAD_SCORE_THRESHOLD) -> dict[str, Any]:
    """Compute the metrics of one group of :func:`labelled_counts` rows.

    Parameters
    ----------
    group : pandas.DataFrame
        Rows of :func:`labelled_counts` (one model version and period, or any subset).
    threshold : int, default 30
        Rows with a score below this are flagged.

    Returns
    -------
    dict
        ``scored``, ``labelled``, ``coverage``, ``positives``, ``flag_rate``, ``pr_auc``,
        ``precision``, ``recall``, ``ece`` and ``ece_noise`` (NaN where undefined).
        ``ece_noise`` is the ECE a perfectly calibrated model would show on these bins by
        chance, ``sqrt(2/pi) * sum_b sqrt(sum_i p_i (1 - p_i)) / n`` (the mean absolute
        deviation of each bin's observed rate), large when labels are few.
    """
    scored = float(group["n"].sum())
    labelled = float(group["labelled"].sum())
    positives = float(group["positives"].sum())
    by_score = group.groupby("Score")[["labelled", "positives"]].sum()
    negatives = (by_score["labelled"] - by_score["positives"]).to_numpy()
    flagged = group["Score"] < threshold
    tp = float(group.loc[flagged, "positives"].sum())
    flagged_labelled = float(group.loc[flagged, "labelled"].sum())
    by_bin = group.groupby("pbin")[["labelled", "positives", "p_sum", "p2_sum"]].sum()
    variance = np.clip(by_bin["p_sum"] - by_bin["p2_sum"], 0.0, None).to_numpy()
    nan = float("nan")
    return {
        "scored": int(scored),
        "labelled": int(labelled),
        "coverage": labelled / scored if scored else nan,
        "positives": int(positives),
        "flag_rate": float(group.loc[flagged, "n"].sum()) / scored if scored else nan,
        "pr_auc": average_precision_from_counts(
            by_score.index.to_numpy(), by_score["positives"].to_numpy(), negatives
        ),
        "precision": tp / flagged_labelled if flagged_labelled else nan,
        "recall": tp / positives if positives else nan,
        "ece": float(np.abs(by_bin["p_sum"] - by_bin["positives"]).sum() / labelled)
        if labelled
        else nan,
        "ece_noise": float(np.sqrt(2 / np.pi) * np.sqrt(variance).sum() / labelled)
        if labelled
        else nan,
    }


def performance_over_time(
    store: Store,
    start: Any,
    end: Any,
    model: str | None = None,
    version: str | None = None,
    truth: str = "labels",
    target: str = "bot",
    as_of: Any = None,
    bucket: str = "day",
    threshold: int = BAD_SCORE_THRESHOLD,
    n_bins: int = 10,
) -> pd.DataFrame:
    """Return each model version's performance per period, with the label coverage.

    Parameters
    ----------
    store : Store
        Where the tables are.
    start, end : datetime or ISO-8601 str
        Scored events in ``[start, end)``, UTC.
    model, version : str, optional
        Only this model / version.
    truth : {"labels", "ground_truth"}, default "labels"
        Where labels come from.
    target : {"bot", "attack"}, default "bot"
        What is positive in ground truth.
    as_of : datetime or str, optional
        Use only labels given by then (default: now); re-run later to see coverage grow.
    bucket : {"hour", "day", "week"}, default "day"
        Period length.
    threshold : int, default 30
        Rows with a score below this are flagged.
    n_bins : int, default 10
        Probability bins for the ECE.

    Returns
    -------
    pandas.DataFrame
        :data:`PERFORMANCE_COLUMNS`, one row per model, version and period; metrics are
        NaN where they are undefined (no labels, no positives, nothing flagged).
    """
    if bucket is None:
        raise InputError("bucket is required (hour, day or week)")
    counts = labelled_counts(
        store, start, end, model, version, truth, target, as_of, bucket, n_bins
    )
    rows = [
        {"model": m, "version": v, "period": p, **summarize_counts(group, threshold)}
        for (m, v, p), group in counts.groupby(["model", "version", "period"], sort=True)
    ]
    return pd.DataFrame(rows, columns=list(PERFORMANCE_COLUMNS))
