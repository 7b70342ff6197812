"""Performance over time with late labels, and calibration drift, on both backends."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from workbench.errors import InputError
from workbench.monitor import (
    average_precision_from_counts,
    calibration_drift,
    monitoring_history,
    performance_over_time,
    summarize_counts,
    write_monitoring,
)
from workbench.monitor.performance import BAD_SCORE_THRESHOLD

DAY = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
PER_DAY = 500
#: Verdicts as analysts type them: any case; unknown ones leave the row unlabelled.
POSITIVE = ["bad_bot", "Bad", "AUTOMATED", "good_bot"]
NEGATIVE = ["human", "Benign", "clean"]


def ece_reference(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> float:
    """ECE binned as workbench.models.metrics bins (right-closed equal-width bins)."""
    edges = np.linspace(0, 1, n_bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1], right=True), 0, n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(p[mask].mean() - y[mask].mean())
    return total / len(y)


def make_rows(seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scores of model ``m`` (versions 1 and 2) over three days, and late labels for them.

    Day 1 and 2: outcomes drawn with the predicted probability (calibrated). Day 3: the world
    changed and outcomes follow ``p ** 3`` (overconfident model). Labels arrive 2, 5 and 9
    days after the event for days 1, 2, 3; a fifth of the rows are never labelled, some get an
    unknown verdict, some are corrected later, and the ``ip`` rows are labelled per entity.
    """
    rng = np.random.default_rng(seed)
    scores, labels = [], []
    for day in range(3):
        t0 = DAY + dt.timedelta(days=day)
        p = rng.uniform(0, 1, PER_DAY).round(4)
        y = rng.uniform(0, 1, PER_DAY) < (p if day < 2 else p**3)
        for i in range(PER_DAY):
            per_entity = i % 25 == 0
            ray = "" if per_entity else f"r{day}-{i}"
            entity = f"10.0.{day}.{i}"
            event = t0 + dt.timedelta(seconds=60 * i)
            for version in ("1", "2"):
                scores.append({
                    "RayID": ray, "EntityType": "ip" if per_entity else "request",
                    "Entity": entity, "EventTime": event, "Model": "m", "Version": version,
                    "Probability": p[i], "Score": int(1 + round(98 * (1 - p[i]))),
                    "_y": int(y[i]), "_day": day, "_i": i,
                })  # fmt: skip
            if i % 5 == 4:
                continue  # never labelled
            verdict = (POSITIVE if y[i] else NEGATIVE)[i % (4 if y[i] else 3)]
            if i % 40 == 1:
                verdict = "unsure"
            when = event + dt.timedelta(days=(2, 5, 9)[day])
            if i % 17 == 3:  # a first, wrong verdict corrected a day later
                wrong = NEGATIVE[0] if y[i] else POSITIVE[0]
                labels.append({"RayID": ray, "EntityType": "ip" if per_entity else "request",
                               "Entity": entity, "LabelTime": when, "Verdict": wrong})  # fmt: skip
                when = when + dt.timedelta(days=1)
            labels.append({"RayID": ray, "EntityType": "ip" if per_entity else "request",
                           "Entity": entity, "LabelTime": when, "Verdict": verdict})  # fmt: skip
    return pd.DataFrame(scores), pd.DataFrame(labels)


@pytest.fixture(scope="module")
def loaded(store):
    scores, labels = make_rows()
    store.insert_df("scores", scores.drop(columns=["_y", "_day", "_i"]))
    labels.insert(0, "LabelID", [f"l{i}" for i in range(len(labels))])
    store.insert_df("labels", labels.assign(Analyst="analyst", Source="test"))
    return store, scores, labels


def known_labels(scores: pd.DataFrame, labels: pd.DataFrame, as_of: dt.datetime) -> pd.Series:
    """Expected label of each score row as of a time: 1, 0 or -1 (none)."""
    seen = labels[labels["LabelTime"] <= as_of].sort_values("LabelTime")
    by_ray = seen[seen["RayID"] != ""].groupby("RayID")["Verdict"].last()
    by_entity = seen[seen["RayID"] == ""].groupby(["EntityType", "Entity"])["Verdict"].last()
    out = []
    for rec in scores.to_dict("records"):
        if rec["RayID"]:
            verdict = by_ray.get(rec["RayID"], "")
        else:
            verdict = by_entity.get((rec["EntityType"], rec["Entity"]), "")
        v = verdict.lower()
        out.append(1 if v in {x.lower() for x in POSITIVE} else
                   0 if v in {x.lower() for x in NEGATIVE} else -1)  # fmt: skip
    return pd.Series(out, index=scores.index)


def test_performance_matches_sklearn_and_numpy_once_every_label_is_in(loaded):
    store, scores, labels = loaded
    as_of = DAY + dt.timedelta(days=30)
    got = performance_over_time(store, DAY, DAY + dt.timedelta(days=3), model="m", version="1",
                                as_of=as_of)  # fmt: skip
    assert list(got["period"]) == [DAY + dt.timedelta(days=d) for d in range(3)]
    mine = scores[scores["Version"] == "1"].copy()
    mine["y"] = known_labels(mine, labels, as_of)
    for day, row in zip(range(3), got.to_dict("records"), strict=True):
        part = mine[mine["_day"] == day]
        lab = part[part["y"] >= 0]
        y, p, s = lab["y"].to_numpy(), lab["Probability"].to_numpy(), lab["Score"].to_numpy()
        assert row["scored"] == PER_DAY
        assert row["labelled"] == len(lab) and row["coverage"] == pytest.approx(len(lab) / PER_DAY)
        assert row["positives"] == y.sum()
        assert row["pr_auc"] == pytest.approx(average_precision_score(y, -s), rel=1e-9)
        flagged = s < BAD_SCORE_THRESHOLD
        assert row["precision"] == pytest.approx(y[flagged].mean())
        assert row["recall"] == pytest.approx(flagged[y == 1].mean())
        assert row["flag_rate"] == pytest.approx((part["Score"] < BAD_SCORE_THRESHOLD).mean())
        assert row["ece"] == pytest.approx(ece_reference(y, p), abs=1e-9)
    # the ninth row of every 40 has an unknown verdict, every fifth none at all
    assert got["coverage"].max() < 0.8


def test_late_labels_raise_coverage_as_they_arrive(loaded):
    store, scores, labels = loaded
    window = (DAY, DAY + dt.timedelta(days=3))
    early = performance_over_time(store, *window, model="m", version="1",
                                  as_of=DAY + dt.timedelta(days=4))  # fmt: skip
    late = performance_over_time(store, *window, model="m", version="1",
                                 as_of=DAY + dt.timedelta(days=30))  # fmt: skip
    # labels arrive 2, 5 and 9 days later: by day 4 only day 1 is (mostly) labelled
    assert early["coverage"].iloc[0] > 0.7
    assert early["coverage"].iloc[1] == 0 and early["coverage"].iloc[2] == 0
    assert np.isnan(early["pr_auc"].iloc[2]) and np.isnan(early["ece"].iloc[2])
    assert (late["coverage"] > 0.7).all()
    # a corrected verdict counts as corrected only once the correction is known
    mine = scores[scores["Version"] == "1"]
    as_of = DAY + dt.timedelta(days=2, hours=3)
    expected = known_labels(mine, labels, as_of)
    got = performance_over_time(store, *window, model="m", version="1", as_of=as_of)
    assert got["positives"].iloc[0] == (expected[mine["_day"] == 0] == 1).sum()
    assert got["labelled"].iloc[0] == (expected[mine["_day"] == 0] >= 0).sum()


def test_calibration_drift_flags_the_overconfident_day(loaded):
    store, scores, labels = loaded
    as_of = DAY + dt.timedelta(days=30)
    one_day = dt.timedelta(days=1)
    report = calibration_drift(store, (DAY, DAY + one_day), (DAY + 2 * one_day, DAY + 3 * one_day),
                               model="m", as_of=as_of)  # fmt: skip
    assert list(report.results["version"]) == ["1", "2"]
    row = report.results.iloc[0]
    mine = scores[scores["Version"] == "1"].copy()
    mine["y"] = known_labels(mine, labels, as_of)
    for name, day in (("reference", 0), ("current", 2)):
        lab = mine[(mine["_day"] == day) & (mine["y"] >= 0)]
        assert row[f"ece_{name}"] == pytest.approx(
            ece_reference(lab["y"].to_numpy(), lab["Probability"].to_numpy()), abs=1e-9
        )
    assert row["ece_reference"] < 0.08 and row["ece_delta"] > 0.1
    assert row["ece_noise_reference"] == pytest.approx(row["ece_noise_current"], rel=0.3)
    assert row["severity"] == "major" and report.verdict == "major"
    curve = report.curves[
        (report.curves["version"] == "1") & (report.curves["window"] == "current")
    ]
    assert curve["count"].sum() == row["labelled_current"]
    assert (curve["fraction_bad"] <= curve["mean_predicted"] + 0.05).all()  # overconfident
    same = calibration_drift(store, (DAY, DAY + one_day), (DAY + one_day, DAY + 2 * one_day),
                             model="m", version="1", as_of=as_of)  # fmt: skip
    assert same.verdict == "none"
    early = calibration_drift(store, (DAY, DAY + one_day), (DAY + 2 * one_day, DAY + 3 * one_day),
                              model="m", version="1", as_of=DAY + dt.timedelta(days=4))  # fmt: skip
    assert early.verdict == "none" and "fewer than 100 labelled rows" in early.notes[0]
    assert write_monitoring(store, report) == 2 * 3
    kept = monitoring_history(store, kind="calibration", metric="ece_delta", model="m")
    assert set(kept["Severity"]) == {"major"} and len(kept) == 2


def test_performance_is_kept_per_period(loaded):
    store, _, _ = loaded
    frame = performance_over_time(store, DAY, DAY + dt.timedelta(days=3), model="m",
                                  as_of=DAY + dt.timedelta(days=30))  # fmt: skip
    assert len(frame) == 6  # two versions, three days
    written = write_monitoring(store, frame, bucket="day")
    assert written == 6 * 10  # scored, labelled, coverage, positives, flag_rate, 5 metrics
    kept = monitoring_history(store, kind="performance", metric="pr_auc", model="m")
    assert len(kept) == 6
    first = kept.sort_values(["Version", "CurrentStart"]).iloc[0]
    assert first["CurrentStart"] == DAY and first["CurrentEnd"] == DAY + dt.timedelta(days=1)
    assert first["Value"] == pytest.approx(frame["pr_auc"].iloc[0])


def test_ground_truth_from_synthetic_requests(store):
    rows = pd.DataFrame({
        "RayID": [f"g{i}" for i in range(8)],
        "EdgeStartTimestamp": [DAY + dt.timedelta(days=5, minutes=i) for i in range(8)],
        "label": ["human", "bad_bot", "good_bot", "human", "bad_bot", "human", "human", "human"],
        "attack_class": ["", "", "", "sqli", "", "", "xss", ""],
    })  # fmt: skip
    store.insert_df("http_requests", rows)
    p = np.array([0.1, 0.9, 0.6, 0.8, 0.7, 0.2, 0.4, 0.3])
    store.insert_df("scores", pd.DataFrame({
        "RayID": rows["RayID"].tolist() + ["missing"], "EntityType": "request",
        "EventTime": rows["EdgeStartTimestamp"].tolist() + [DAY + dt.timedelta(days=5)],
        "Model": "gt", "Version": "1", "Probability": list(p) + [0.5],
        "Score": [int(1 + round(98 * (1 - v))) for v in p] + [50],
    }))  # fmt: skip
    window = (DAY + dt.timedelta(days=5), DAY + dt.timedelta(days=6))
    bot = performance_over_time(store, *window, model="gt", truth="ground_truth")
    assert bot["scored"].iloc[0] == 9 and bot["labelled"].iloc[0] == 8
    y_bot = (rows["label"] != "human").astype(int).to_numpy()
    s = 1 + np.rint(98 * (1 - p))
    assert bot["pr_auc"].iloc[0] == pytest.approx(average_precision_score(y_bot, -s))
    attack = performance_over_time(store, *window, model="gt", truth="ground_truth",
                                   target="attack")  # fmt: skip
    y_attack = (rows["attack_class"] != "").astype(int).to_numpy()
    assert attack["positives"].iloc[0] == 2
    assert attack["pr_auc"].iloc[0] == pytest.approx(average_precision_score(y_attack, -s))


def counts_frame(p: np.ndarray, y: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """What labelled_counts returns for fully labelled rows, built in numpy."""
    edges = np.linspace(0, 1, n_bins + 1)
    frame = pd.DataFrame({
        "Score": (1 + np.rint(98 * (1 - p))).astype(int),
        "pbin": np.clip(np.digitize(p, edges[1:-1], right=True), 0, n_bins - 1),
        "n": 1, "labelled": 1, "positives": y.astype(int), "p_sum": p, "p2_sum": p * p,
    })  # fmt: skip
    return frame.groupby(["Score", "pbin"], as_index=False).sum()


def test_ece_noise_is_the_ece_of_a_calibrated_model_by_chance():
    rng = np.random.default_rng(8)
    for n in (150, 1500):
        eces, noises = [], []
        for _ in range(80):
            p = rng.uniform(0, 1, n)
            y = rng.uniform(0, 1, n) < p
            got = summarize_counts(counts_frame(p, y))
            assert got["ece"] == pytest.approx(ece_reference(y.astype(int), p), abs=1e-9)
            eces.append(got["ece"])
            noises.append(got["ece_noise"])
        assert np.mean(eces) == pytest.approx(np.mean(noises), rel=0.15)
    # with ten times the labels, chance calibration error shrinks about sqrt(10) times
    assert 0.02 < np.mean(noises) < 0.04


def test_average_precision_from_counts_handles_ties_like_sklearn():
    rng = np.random.default_rng(2)
    s = rng.integers(1, 12, 300)
    y = (rng.uniform(size=300) < 1 / s).astype(int)
    values = np.unique(s)
    pos = np.array([y[s == v].sum() for v in values])
    neg = np.array([(1 - y[s == v]).sum() for v in values])
    assert average_precision_from_counts(values[::-1], pos[::-1], neg[::-1]) == pytest.approx(
        average_precision_score(y, -s)
    )
    assert np.isnan(average_precision_from_counts([1, 2], [0, 0], [3, 4]))


def test_bad_options_are_clear_errors(store):
    window = (DAY, DAY + dt.timedelta(days=1))
    with pytest.raises(InputError, match="truth must be one of"):
        performance_over_time(store, *window, truth="oracle")
    with pytest.raises(InputError, match="target must be one of"):
        performance_over_time(store, *window, truth="ground_truth", target="fraud")
    with pytest.raises(InputError, match="bucket must be one of"):
        performance_over_time(store, *window, bucket="minute")
    with pytest.raises(InputError, match="a version needs its model"):
        performance_over_time(store, *window, version="1")
    with pytest.raises(InputError, match="as_of=.* is not a time"):
        performance_over_time(store, *window, as_of="soon")
    assert BAD_SCORE_THRESHOLD == 30
