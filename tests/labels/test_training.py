"""Analyst labels joined to entity features for training."""

from __future__ import annotations

import pytest

from workbench.errors import InputError
from workbench.labels import labelled_entity_frame, write_labels


def test_labels_join_features(embedded_store) -> None:
    from workbench.synth import write_traffic

    with pytest.raises(InputError, match="no ip labels yet"):
        labelled_entity_frame(embedded_store, "2026-11-01", "2026-11-02")
    write_traffic(embedded_store, 5_000, days=1.0, seed=4, progress=False)
    ips = (
        embedded_store.query_df(
            "SELECT DISTINCT ClientIP FROM http_requests ORDER BY ClientIP LIMIT 3"
        )["ClientIP"]
        .astype(str)
        .tolist()
    )
    write_labels(embedded_store, ips, ["bad_bot", "human", "malicious"], "ann", "test",
                 times="2026-11-03T00:00:00Z")  # fmt: skip
    write_labels(embedded_store, [ips[2]], ["benign"], "bob", "test", times="2026-11-04")
    write_labels(embedded_store, ["203.0.113.250"], ["bad"], "ann", "test")  # not active
    frame = labelled_entity_frame(embedded_store, "2026-11-01", "2026-11-02")
    assert sorted(frame["ClientIP"]) == sorted(ips)
    got = frame.set_index("ClientIP")
    assert got.loc[ips[0], "y"] == 1 and got.loc[ips[1], "y"] == 0
    assert got.loc[ips[2], "Verdict"] == "benign" and got.loc[ips[2], "y"] == 0
    assert got.loc[ips[0], "requests"] > 0
    with pytest.raises(InputError, match="is active"):
        labelled_entity_frame(embedded_store, "2027-01-01", "2027-01-02")


# -- analyst labels as training targets (train_tabular(labels=...)) --------------------------
WINDOW = ("2026-11-01", "2026-11-02")
TINY = {"n_estimators": 60, "min_child_samples": 5, "early_stopping_rounds": 20}


def _csv(path, rows) -> None:
    lines = ["entity,verdict,analyst,time"] + [",".join(map(str, row)) for row in rows]
    path.write_text("\n".join(lines) + "\n")


def _truth_of(frame) -> dict[str, int]:
    return dict(zip(frame["ClientIP"].astype(str), frame["y"].astype(int), strict=True))


def _all_sides(split):
    import pandas as pd

    return pd.concat(split.sides().values(), ignore_index=True)


def test_training_uses_imported_analyst_labels(warehouse, tmp_path) -> None:
    """Labels go through the real CSV importer; ``both`` flips y, ``analyst`` keeps only them."""
    import json

    from tests.conftest import make_embedded_store
    from workbench.labels import import_labels_csv
    from workbench.models.entity_data import entity_training_frame, split_training_frames
    from workbench.models.train import train_tabular
    from workbench.synth import write_traffic

    store = make_embedded_store(warehouse)
    try:
        write_traffic(store, 20_000, days=1.0, seed=5, progress=False)
        truth = _truth_of(entity_training_frame(store, "ip", *WINDOW))
        bots = sorted(ip for ip, y in truth.items() if y == 1)
        humans = sorted(ip for ip, y in truth.items() if y == 0)
        flipped = {**{ip: "human" for ip in bots[:3]}, **{ip: "bad_bot" for ip in humans[:2]}}

        # too few analyst labels for a three-way split: a clear error
        _csv(tmp_path / "few.csv", [(ip, "bad_bot", "ann", "2026-11-03") for ip in bots[:5]])
        assert import_labels_csv(store, tmp_path / "few.csv").inserted == 5
        with pytest.raises(InputError, match=r"at least 3 automated and 3 human.*found 5 autom"):
            train_tabular(store, *WINDOW, labels="analyst", split="random", progress=False, **TINY)
        with pytest.raises(InputError, match="labels must be one of"):
            train_tabular(store, *WINDOW, labels="analysts", progress=False)

        # 30 + 30 verdicts agreeing with ground truth, then 5 flips given later (latest wins)
        agree = [(ip, "bad_bot", "ann", "2026-11-03") for ip in bots[:30]]
        agree += [(ip, "benign", "ann", "2026-11-03") for ip in humans[:30]]
        _csv(tmp_path / "agree.csv", agree)
        _csv(tmp_path / "flip.csv", [(ip, v, "bob", "2026-11-04") for ip, v in flipped.items()])
        assert import_labels_csv(store, tmp_path / "agree.csv").inserted == 60
        assert import_labels_csv(store, tmp_path / "flip.csv").inserted == 5

        # both: analyst verdicts override ground truth, everything else keeps it
        both = split_training_frames(store, "ip", *WINDOW, "random", labels="both")
        got = _truth_of(_all_sides(both))
        assert len(got) == len(truth)
        for ip, y in truth.items():
            assert got[ip] == (1 - y if ip in flipped else y), ip
        assert both.labels == {
            "source": "both", "analyst_labels": 60, "analyst_automated": 29,
            "analyst_human": 31, "overrode_truth": 5, "agreed_with_truth": 55,
            "without_truth": 0, "labels_in_store": 60,
        }  # fmt: skip

        # analyst: only the 60 labelled entities are targets, flips included
        only = split_training_frames(store, "ip", *WINDOW, "random", labels="analyst")
        frame = _all_sides(only)
        targets = _truth_of(frame[frame["y"] >= 0])
        assert set(targets) == set(bots[:30]) | set(humans[:30])
        assert all(targets[ip] == (1 if v == "bad_bot" else 0) for ip, v in flipped.items())

        # train on them: the card and metrics.json say which labels were used
        folder = tmp_path / "bot-analyst"
        result = train_tabular(store, *WINDOW, folder, labels="analyst", split="random",
                               progress=False, **TINY)  # fmt: skip
        sides = result.metrics["split"]
        assert sum(sides[s]["automated"] + sides[s]["human"] for s in
                   ("train", "validation", "test")) == 60  # fmt: skip
        card = json.loads((folder / "card.json").read_text())
        assert card["labels"] == {"source": "analyst", "rule": "majority",
                                  "analyst_labels": 60, "overrode_truth": 5}  # fmt: skip
        saved = json.loads((folder / "metrics.json").read_text())
        assert saved["labels"]["source"] == "analyst" and saved["labels"]["overrode_truth"] == 5
        assert saved["split"]["labels"]["analyst_labels"] == 60
        features = json.loads((folder / "features.json").read_text())
        assert features["labels"]["source"] == "analyst"

        # truth (default) ignores the labels table
        plain = train_tabular(store, *WINDOW, split="random", progress=False, **TINY)
        assert plain.metrics["labels"]["source"] == "truth"
        assert plain.metrics["labels"]["analyst_labels"] == 0
        assert _truth_of(_all_sides(plain.split)) == truth
    finally:
        store.close()


def test_cli_trains_on_analyst_labels(tmp_path) -> None:
    from typer.testing import CliRunner

    from workbench.labels import import_labels_csv
    from workbench.models.cli import train_app
    from workbench.models.entity_data import entity_training_frame
    from workbench.store import connect
    from workbench.synth import write_traffic

    store = connect()
    try:
        write_traffic(store, 20_000, days=1.0, seed=5, progress=False)
        truth = _truth_of(entity_training_frame(store, "ip", *WINDOW))
        rows = [(ip, "bad_bot" if y else "human", "ann", "2026-11-03")
                for ip, y in sorted(truth.items())[:80]]  # fmt: skip
        rows[0] = (rows[0][0], "human" if truth[rows[0][0]] else "bad_bot", "ann", "2026-11-03")
        _csv(tmp_path / "labels.csv", rows)
        import_labels_csv(store, tmp_path / "labels.csv")
    finally:
        store.close()
    out = tmp_path / "m"
    args = ["tabular", "--start", WINDOW[0], "--end", WINDOW[1], "--out", str(out),
            "--split", "random", "--labels", "both"]  # fmt: skip
    result = CliRunner().invoke(train_app, args)
    assert result.exit_code == 0, result.output
    assert "labels: both; 80 analyst labels used, 1 overrode the ground truth" in result.output
    bad = CliRunner().invoke(train_app, [*args[:-1], "guess", "--overwrite"])
    assert bad.exit_code != 0 and isinstance(bad.exception, InputError)
