"""Batch scoring into the scores table, on both store backends: entities and requests."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from workbench.errors import InputError, ModelIntegrityError
from workbench.features import build_entity_features
from workbench.models.charcnn import CharCNNConfig
from workbench.models.scoring import score_requests
from workbench.models.train import load_entity_model, train_anomaly, train_tabular
from workbench.models.train_text import load_text_model, train_request_classifier
from workbench.synth import generate_traffic

START, END = pd.Timestamp("2026-11-01", tz="UTC"), pd.Timestamp("2026-11-02", tz="UTC")
TINY = CharCNNConfig(max_len=96, embed_dim=8, kernel_sizes=(3,), n_filters=8, hidden=8)


@pytest.fixture(scope="module")
def traffic() -> pa.Table:
    return pa.concat_tables(generate_traffic(8_000, days=1, seed=11))


@pytest.fixture(scope="module")
def cnn_folder(traffic, tmp_path_factory):
    """A tiny bot-head CNN trained on the same synthetic traffic (store-independent)."""
    folder = tmp_path_factory.mktemp("cnn") / "cnn-bot"
    rows = traffic.slice(0, 3000).to_pandas()
    train_request_classifier(
        rows, label_col="label", head="bot", out_dir=folder, seed=0, config=TINY,
        epochs=1, progress=False, n_threads=1,
    )  # fmt: skip
    return folder


@pytest.fixture(scope="module")
def loaded(store, traffic, tmp_path_factory):
    store.insert_arrow("http_requests", traffic)
    folder = tmp_path_factory.mktemp("entity")
    train_tabular(store, START, END, folder / "tab", seed=0, progress=False)
    train_anomaly(store, START, END, folder / "hbos", detector="hbos", seed=0, progress=False)
    return store, folder


def _scores(store, model: str) -> pd.DataFrame:
    return store.query_df(
        "SELECT * FROM scores WHERE Model = {m:String} ORDER BY Entity, RayID", {"m": model}
    )


@pytest.mark.parametrize("name", ["tab", "hbos"])
def test_entity_scores_match_the_model_and_replace_on_rerun(loaded, name: str) -> None:
    store, folder = loaded
    result = score_requests(store, folder / name, START, END, batch_rows=100, progress=False)
    model, artifact = load_entity_model(folder / name)
    features = build_entity_features(store, "ip", START, END, model.feature_names_)
    assert result.rows == len(features) and result.batches == -(-len(features) // 100)
    assert result.max_batch_rows <= 100
    assert result.version == artifact.card["content_hash"][:12] and result.model == name
    written = _scores(store, name)
    assert len(written) == len(features)
    assert (written["RayID"] == "").all() and (written["EntityType"] == "ip").all()
    assert set(written["Version"]) == {result.version}
    assert set(written["ScoreKind"]) == {"bot" if name == "tab" else "anomaly"}
    assert (pd.to_datetime(written["EventTime"], utc=True) == START).all()
    expected = features.assign(score=model.score_1_99(features)).set_index("ClientIP")["score"]
    got = written.set_index("Entity")["Score"]
    np.testing.assert_array_equal(got.loc[expected.index].to_numpy(), expected.to_numpy())
    assert written["Probability"].between(0, 1).all() and written["Score"].between(1, 99).all()
    again = score_requests(store, folder / name, START, END, batch_rows=5000, progress=False)
    assert again.replaced == len(features) and len(_scores(store, name)) == len(features)


def test_request_scores_from_the_cnn(loaded, cnn_folder) -> None:
    store, _ = loaded
    result = score_requests(store, cnn_folder, START, END, batch_rows=1000, progress=False)
    n = store.query_df(
        "SELECT count() AS n FROM http_requests WHERE EdgeStartTimestamp >= {s:DateTime64(3)} "
        "AND EdgeStartTimestamp < {e:DateTime64(3)}",
        {"s": START, "e": END},
    )["n"][0]
    assert result.rows == n and result.batches >= n // 1000 and result.max_batch_rows <= 1000
    written = store.query_df(
        "SELECT s.RayID AS RayID, s.Entity AS Entity, s.EventTime AS EventTime, s.Score AS Score,"
        " s.Probability AS Probability, s.ScoreKind AS ScoreKind, r.ClientIP AS ClientIP,"
        " r.EdgeStartTimestamp AS ts FROM scores AS s INNER JOIN http_requests AS r"
        " ON s.RayID = r.RayID WHERE s.Model = {m:String}",
        {"m": result.model},
    )
    assert len(written) == n
    assert (written["Entity"] == written["ClientIP"]).all()
    assert (written["EventTime"] == written["ts"]).all() and set(written["ScoreKind"]) == {"bot"}
    # the written scores are the model's, for a sample of requests read back on their own
    sample = store.query_df("SELECT * FROM http_requests ORDER BY RayID LIMIT 300")
    model = load_text_model(cnn_folder)
    expected = pd.Series(model.score_1_99(sample, head="bot"), index=sample["RayID"])
    got = written.set_index("RayID")["Score"].loc[expected.index]
    np.testing.assert_array_equal(got.to_numpy(), expected.to_numpy())


def test_a_changed_model_is_refused_before_writing(loaded, tmp_path) -> None:
    store, folder = loaded
    copy = tmp_path / "tampered"
    shutil.copytree(folder / "tab", copy)
    (copy / "model.lgb.txt").write_text((copy / "model.lgb.txt").read_text() + "\n")
    before = store.query_df("SELECT count() AS n FROM scores")["n"][0]
    with pytest.raises(ModelIntegrityError, match="model.lgb.txt"):
        score_requests(store, copy, START, END, progress=False)
    assert store.query_df("SELECT count() AS n FROM scores")["n"][0] == before


def test_bad_arguments_are_named(loaded, tmp_path) -> None:
    store, folder = loaded
    with pytest.raises(InputError, match="batch_rows"):
        score_requests(store, folder / "tab", START, END, batch_rows=0)
    with pytest.raises(InputError, match="head"):
        score_requests(store, folder / "tab", START, END, head="bot")
    with pytest.raises(InputError, match="before"):
        score_requests(store, folder / "tab", END, START)
    with pytest.raises(InputError, match="not a model folder"):
        score_requests(store, tmp_path, START, END)


def test_worst_entities_ranks_the_newest_version_by_score_errors_and_requests(loaded) -> None:
    store, folder = loaded
    score_requests(store, folder / "tab", START, END, progress=False)
    got = store.run("worst_entities", model="tab", start=START, end=END, limit=10_000)
    scores = _scores(store, "tab")
    newest = scores.loc[scores["ScoredAt"] == scores["ScoredAt"].max(), "Version"].iloc[0]
    assert set(got["version"]) == {newest}
    traffic = store.query_df(
        "SELECT ClientIP AS entity, count() AS requests, "
        "countIf(EdgeResponseStatus >= 400) AS error_responses FROM http_requests GROUP BY entity"
    )
    expected = (
        scores[scores["Version"] == newest]
        .rename(columns={"Entity": "entity", "Score": "score"})[["entity", "score"]]
        .merge(traffic, on="entity")
        .sort_values(
            ["score", "error_responses", "requests", "entity"], ascending=[True, False, False, True]
        )  # fmt: skip
    )
    assert got["entity"].tolist() == expected["entity"].tolist()
    assert got["requests"].tolist() == expected["requests"].tolist()
    top = store.run("worst_entities", model="tab", start=START, end=END, limit=1)
    assert len(top) == 1 and top["entity"][0] == expected["entity"].iloc[0]
    assert store.run("worst_entities", model="no-such-model", start=START, end=END).empty
