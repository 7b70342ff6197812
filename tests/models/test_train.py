"""Entity labels, leak-free splits and the training jobs, on the sample traffic and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import typer
from typer.testing import CliRunner

from workbench.errors import InputError, ModelIntegrityError
from workbench.features import group_ids
from workbench.models.artifacts import verify_model
from workbench.models.charcnn import CharCNNConfig
from workbench.models.cli import score, train_app
from workbench.models.entity_data import (
    entity_training_frame,
    label_entities,
    split_entities,
    split_training_frames,
)
from workbench.models.tabular import BOOSTER_FILE
from workbench.models.train import load_entity_model, train_anomaly, train_tabular
from workbench.models.train_cnn import request_sample, train_charcnn
from workbench.models.train_common import TARGET_FPR_HUMANS, TARGET_PR_AUC
from workbench.samples import load_samples
from workbench.store import connect
from workbench.synth import generate_traffic

START, END = "2026-11-01", "2026-11-03"


@pytest.fixture(scope="module")
def samples(embedded_store):
    load_samples(embedded_store)
    return embedded_store


@pytest.fixture(scope="module")
def sample_frame(samples) -> pd.DataFrame:
    return entity_training_frame(samples, "ip", START, END)


# -- labels ------------------------------------------------------------------------------------
def test_label_entities_majority_any_and_ties() -> None:
    counts = pd.DataFrame(
        [
            # ip, label, actor, campaign, attack_class, n
            ("a", "human", "human", "human", "", 3),
            ("a", "bad_bot", "scraper", "scraper-01", "", 2),
            ("b", "bad_bot", "scraper", "scraper-02", "sqli", 2),
            ("b", "bad_bot", "scanner", "scanner-01", "xss", 2),
            ("b", "human", "human", "human", "", 1),
            ("c", "good_bot", "crawler", "crawler-01", "", 1),
            ("d", "", "", "", "", 4),
            ("e", "normal", "", "", "", 1),
        ],
        columns=["ClientIP", "label", "actor", "campaign", "attack_class", "n"],
    )
    out = label_entities(counts, ["ClientIP"], "majority").set_index("ClientIP")
    assert out.loc["a", "y"] == 0 and out.loc["a", "actor"] == "human"
    assert out.loc["a", "campaign"] == ""  # humans have no campaign
    assert out.loc["a", "automated_share"] == pytest.approx(0.4)
    # a tie between two campaigns goes to the smallest name, deterministically
    assert out.loc["b", "y"] == 1 and out.loc["b", "campaign"] == "scanner-01"
    assert out.loc["b", "attack_class"] == "sqli"
    assert out.loc["c", "y"] == 1 and out.loc["c", "actor"] == "crawler"  # crawlers: automated
    assert out.loc["d", "y"] == -1 and out.loc["e", "y"] == -1  # no known label
    anyrule = label_entities(counts, ["ClientIP"], "any").set_index("ClientIP")
    assert anyrule.loc["a", "y"] == 1 and anyrule.loc["a", "campaign"] == "scraper-01"
    with pytest.raises(InputError, match="label_rule"):
        label_entities(counts, ["ClientIP"], "most")


def test_entity_frame_on_both_backends(store) -> None:
    t0 = pd.Timestamp("2026-03-01", tz="UTC")
    rows = []
    for _ in range(6):  # IP 1: 6 human requests; IP 2: 4 bot requests and 1 human
        rows.append(("1.1.1.1", "human", "human", "human", "", "/p"))
    for i in range(4):
        rows.append(("2.2.2.2", "bad_bot", "scraper", "scraper-07", "xss" if i else "", "/x"))
    rows.append(("2.2.2.2", "human", "human", "human", "", "/y"))
    frame = pd.DataFrame(
        rows,
        columns=["ClientIP", "label", "actor", "campaign", "attack_class", "ClientRequestPath"],
    )
    frame["RayID"] = [f"r{i}" for i in range(len(frame))]
    frame["EdgeStartTimestamp"] = [t0 + pd.Timedelta(seconds=7 * i) for i in range(len(frame))]
    frame["ClientRequestMethod"] = "GET"
    store.insert_df("http_requests", frame)
    out = entity_training_frame(store, "ip", t0, t0 + pd.Timedelta(hours=1))
    out = out.set_index("ClientIP")
    assert out.loc["1.1.1.1", "y"] == 0 and out.loc["1.1.1.1", "requests"] == 6
    assert out.loc["2.2.2.2", "y"] == 1 and out.loc["2.2.2.2", "campaign"] == "scraper-07"
    assert out.loc["2.2.2.2", "attack_class"] == "xss"
    assert out.loc["2.2.2.2", "automated_share"] == pytest.approx(0.8)
    with pytest.raises(InputError, match="no ip entities"):
        entity_training_frame(store, "ip", "2020-01-01", "2020-01-02")


# -- splits ------------------------------------------------------------------------------------
def _assert_disjoint(split) -> None:
    """Independent check: rows linked by campaign or IP never span two sides."""
    sides = pd.concat(
        [s.assign(_side=name) for name, s in split.sides().items()], ignore_index=True
    )
    gid = group_ids(sides, ["campaign", "ClientIP"])
    spans = pd.Series(sides["_side"].to_numpy()).groupby(gid).nunique()
    assert (spans == 1).all()
    assert split.leaks() == {"campaigns": 0, "entities": 0}


def test_campaign_split_never_shares_a_campaign_or_ip(sample_frame) -> None:
    split = split_entities(sample_frame, ["ClientIP"], "campaign", seed=0)
    _assert_disjoint(split)
    campaigns_per_actor = (
        sample_frame[sample_frame["y"] == 1].groupby("actor")["campaign"].nunique()
    )
    for actor, n in campaigns_per_actor.items():
        if n >= 3:  # every such actor is tested on a campaign it never trained on
            assert (split.test["actor"] == actor).any(), actor
            assert (split.validation["actor"] == actor).any(), actor
    humans = [int((s["y"] == 0).sum()) for s in split.sides().values()]
    assert humans[0] > humans[1] > 0 and humans[2] > 0
    assert sum(len(s) for s in split.sides().values()) == len(sample_frame)
    other = split_entities(sample_frame, ["ClientIP"], "campaign", seed=1)
    assert set(other.test["campaign"]) != set(split.test["campaign"])


def test_time_splits(samples) -> None:
    timed = split_training_frames(samples, "ip", START, END, how="time", seed=0)
    assert timed.leaks()["entities"] > 0  # the same IP recurs in later parts
    strict = split_training_frames(samples, "ip", START, END, how="time_campaign", seed=0)
    _assert_disjoint(strict)
    assert strict.dropped["seen_in_an_earlier_part"] > 0
    with pytest.raises(InputError, match="window"):
        split_entities(pd.DataFrame({"y": [1], "campaign": [""]}), ["ClientIP"], "time")
    with pytest.raises(InputError, match="split must be"):
        split_entities(pd.DataFrame({"y": [1], "campaign": [""]}), ["ClientIP"], "weekly")


# -- training jobs -----------------------------------------------------------------------------
def test_tabular_meets_targets_on_unseen_campaigns(samples, tmp_path) -> None:
    """The issue's target on the committed sample traffic (250k requests, 10,306 IPs)."""
    folder = tmp_path / "bot-ip"
    result = train_tabular(samples, START, END, folder, seed=0, progress=False)
    test = result.metrics["model"]["test"]
    assert test["pr_auc"] >= TARGET_PR_AUC
    assert test["fpr_humans"] <= TARGET_FPR_HUMANS
    assert result.metrics["targets"]["met"] is True
    assert test["n"] == len(result.split.test) and test["n"] > 1500
    # the test campaigns were never seen in training
    train_campaigns = set(result.split.train["campaign"]) - {""}
    assert not train_campaigns & (set(result.split.test["campaign"]) - {""})
    # everything the issue asks for is in metrics.json, model and baseline side by side
    saved = json.loads((folder / "metrics.json").read_text())
    for key in ("roc_auc", "pr_auc", "f1", "precision", "recall", "fpr_humans", "ece"):
        assert key in saved["comparison"]
        assert saved["comparison"][key]["baseline"] is not None
    for key in ("reliability_curve", "confusion_matrix", "per_actor", "per_attack_class"):
        assert saved["model"]["test"][key]
    assert saved["model"]["test"]["per_actor"]["residential_proxy"]["recall"] > 0.9
    assert len(saved["baseline"]["rules"]) == 3
    # the folder: weights as a text dump, config, features, card with window, seed, commit, hash
    card = verify_model(folder)
    assert set(card["files"]) >= {BOOSTER_FILE, "config.json", "features.json", "metrics.json"}
    assert card["seed"] == 0 and card["data_window"]["start"].startswith("2026-11-01")
    assert card["git"]["commit"] and len(card["content_hash"]) == 64
    features = json.loads((folder / "features.json").read_text())
    assert features["entity"] == "ip" and features["labels"]["rule"] == "majority"
    model, artifact = load_entity_model(folder)
    X = result.split.test[model.feature_names_]
    np.testing.assert_array_equal(model.score_1_99(X), result.model.score_1_99(X))
    # same seed, same model
    again = train_tabular(samples, START, END, tmp_path / "again", seed=0, progress=False)
    assert (tmp_path / "again" / BOOSTER_FILE).read_bytes() == (folder / BOOSTER_FILE).read_bytes()
    assert again.metrics["model"]["test"]["pr_auc"] == test["pr_auc"]
    # a changed file is refused
    metrics_path = folder / "metrics.json"
    metrics_path.write_text(metrics_path.read_text().replace('"pr_auc"', '"pr_auc" ', 1))
    with pytest.raises(ModelIntegrityError, match="metrics.json"):
        load_entity_model(folder)


@pytest.mark.parametrize("detector", ["iforest", "hbos"])
def test_train_anomaly_on_samples(samples, tmp_path, detector: str) -> None:
    folder = tmp_path / detector
    result = train_anomaly(
        samples, START, END, folder, detector=detector, seed=0, progress=False, n_estimators=50
    )
    m = result.metrics["model"]
    assert m["calibrated_on_labels"] is False  # default: score < 30 exactly when z > 3.5
    assert m["test"]["recall"] == m["test_robust_z_rule"]["recall"]
    assert 0 < m["train_anomaly_share"] < 0.05  # robust z, not a contamination share
    rule = m["test_robust_z_rule"]
    assert rule["fpr_humans"] <= 0.01  # the robust-z rule rarely flags people ...
    flagged_actors = [a for a, g in rule["per_actor"].items() if a != "human" and g["recall"]]
    assert flagged_actors  # ... and catches some loud bots
    assert "baseline" in result.metrics and "comparison" in result.metrics
    model, artifact = load_entity_model(folder)
    X = result.split.test[model.feature_names_]
    np.testing.assert_array_equal(model.score_1_99(X), result.model.score_1_99(X))
    assert artifact.config["detector"] == detector


def test_training_errors(samples, tmp_path) -> None:
    with pytest.raises(InputError, match="no ip entities"):
        train_tabular(samples, "2020-01-01", "2020-01-02", progress=False)
    (tmp_path / "taken").mkdir()
    with pytest.raises(InputError, match="already exists"):
        train_tabular(samples, START, END, tmp_path / "taken", progress=False)
    with pytest.raises(InputError, match="start"):
        train_tabular(samples, END, START, progress=False)
    with pytest.raises(InputError, match="head"):
        train_charcnn(tmp_path / "cnn", head="waf")
    with pytest.raises(InputError, match="store"):
        train_charcnn(tmp_path / "cnn", head="bot")


def test_request_sample_is_a_deterministic_hash_sample(samples) -> None:
    a = request_sample(samples, START, END, 500, seed=3)
    b = request_sample(samples, START, END, 500, seed=3)
    c = request_sample(samples, START, END, 500, seed=4)
    assert len(a) == 500 and a["RayID"].tolist() == b["RayID"].tolist()
    assert set(a["RayID"]) != set(c["RayID"])
    assert (a["label"] != "").all()
    with pytest.raises(InputError, match="label column"):
        request_sample(samples, START, END, 10, label_column="ClientIP; DROP TABLE x")


# -- the CLI -------------------------------------------------------------------------------
def _load_small_traffic() -> None:
    store = connect()
    try:
        table = pa.concat_tables(generate_traffic(20_000, days=1, seed=5))
        store.insert_arrow("http_requests", table)
    finally:
        store.close()


def test_cli_trains_scores_and_refuses_an_existing_folder(tmp_path) -> None:
    _load_small_traffic()
    runner = CliRunner()
    out = tmp_path / "models" / "bot-ip"
    args = ["tabular", "--start", "2026-11-01", "--end", "2026-11-02", "--out", str(out)]
    result = runner.invoke(train_app, [*args, "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert "pr_auc" in result.output and f"saved {out}" in result.output
    assert (out / BOOSTER_FILE).is_file()
    again = runner.invoke(train_app, args)
    assert again.exit_code != 0 and isinstance(again.exception, InputError)

    app = typer.Typer()
    app.command()(score)
    scored = runner.invoke(
        app,
        ["--model", str(out), "--start", "2026-11-01", "--end", "2026-11-02", "--json"],
    )
    assert scored.exit_code == 0, scored.output
    summary = json.loads(scored.stdout.strip().splitlines()[-1])
    store = connect()
    try:
        n_ips = store.query_df(
            "SELECT uniqExact(ClientIP) AS n FROM http_requests "
            "WHERE EdgeStartTimestamp < {end:DateTime64(3, 'UTC')}",
            {"end": pd.Timestamp("2026-11-02", tz="UTC")},
        )["n"][0]
        written = store.query_df("SELECT count() AS n FROM scores WHERE RayID = ''")["n"][0]
    finally:
        store.close()
    assert summary["rows"] == n_ips == written

    anomaly = runner.invoke(
        train_app,
        ["anomaly", "--start", "2026-11-01", "--end", "2026-11-02", "--out",
         str(tmp_path / "an"), "--detector", "hbos"],
    )  # fmt: skip
    assert anomaly.exit_code == 0, anomaly.output
    assert "hbos:" in anomaly.output
    missing = runner.invoke(train_app, ["charcnn", "--out", str(tmp_path / "c")])
    assert isinstance(missing.exception, InputError)


# -- the char-CNN jobs -----------------------------------------------------------------------
TINY = CharCNNConfig(max_len=96, embed_dim=8, kernel_sizes=(3,), n_filters=8, hidden=8)


def test_train_charcnn_bot_head_on_stored_requests(samples, tmp_path) -> None:
    result = train_charcnn(
        tmp_path / "cnn-bot", head="bot", store=samples, start=START, end=END,
        max_rows=1500, seed=0, config=TINY, epochs=1, progress=False, n_threads=1,
    )  # fmt: skip
    card = verify_model(tmp_path / "cnn-bot")
    assert card["kind"] == "charcnn" and card["seed"] == 0
    assert result.metrics["rows"]["train"] + result.metrics["rows"]["test"] <= 1500
    assert result.metrics["cnn"]["binary"]["pr_auc"] is not None
    assert "baseline" in result.metrics and "comparison" in result.metrics


def test_train_charcnn_attack_head_on_http_params(shared_data, tmp_path) -> None:
    result = train_charcnn(
        tmp_path / "cnn-attack", head="attack", http_params=shared_data / "http_params",
        seed=0, config=TINY, epochs=1, progress=False, n_threads=1,
        max_train_rows=600, max_test_rows=300,
    )  # fmt: skip
    assert result.metrics["data"]["source"] == "HttpParamsDataset"
    assert result.metrics["rows"]["test"] == 300
    assert verify_model(tmp_path / "cnn-attack")["kind"] == "charcnn"


def test_train_anomaly_without_labels_uses_every_entity(tmp_path) -> None:
    table = pa.concat_tables(generate_traffic(6_000, days=1, seed=9))
    for name in ("label", "actor", "campaign", "attack_class"):
        table = table.set_column(
            table.schema.get_field_index(name), name, pa.array([""] * table.num_rows)
        )
    store = connect()
    try:
        store.insert_arrow("http_requests", table)
        result = train_anomaly(
            store, "2026-11-01", "2026-11-02", tmp_path / "unlabelled", detector="hbos",
            progress=False,
        )  # fmt: skip
        n_ips = store.query_df("SELECT uniqExact(ClientIP) AS n FROM http_requests")["n"][0]
    finally:
        store.close()
    m = result.metrics["model"]
    assert result.baseline is None and result.metrics["labels"] is None
    assert m["train_entities"] == n_ips
    assert m["anomalies"] == round(m["train_anomaly_share"] * n_ips)
    assert "test" not in m and set(m["z_quantiles"]) == {"0.5", "0.9", "0.99", "0.999"}
    assert verify_model(tmp_path / "unlabelled")["kind"] == "anomaly"
