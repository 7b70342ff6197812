"""Training jobs: HttpParamsDataset payloads and CSIC-style http_requests rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.errors import InputError, ModelIntegrityError
from workbench.models import CharCNNConfig
from workbench.models.train_text import (
    load_http_params,
    load_text_model,
    train_payload_classifier,
    train_request_classifier,
)

SMALL = CharCNNConfig(max_len=128, embed_dim=12, n_filters=24, hidden=32)


def _write(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    frame = pd.DataFrame(rows, columns=["payload", "attack_type", "label"])
    frame.insert(1, "length", frame["payload"].str.len())
    frame.to_csv(path, index=False, quoting=1)
    return path


def test_load_http_params_keeps_payloads_exactly(tmp_path: Path) -> None:
    rows = [
        ('a, "quoted", b', "norm", "norm"),
        ("NULL", "norm", "norm"),
        ("nan", "norm", "norm"),
        ("1' or '1'='1", "sqli", "anom"),
        ("../etc/passwd", "path-traversal", "anom"),
        ("", "norm", "norm"),
    ]
    frame = load_http_params(_write(tmp_path / "p.csv", rows))
    assert frame["payload"].tolist() == [r[0] for r in rows]
    assert frame["attack_class"].tolist() == [
        "clean",
        "clean",
        "clean",
        "sqli",
        "traversal",
        "clean",
    ]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([("x", "rce", "anom")], "unknown attack_type"),
        ([("x", "norm", "bad")], "unknown label"),
        ([("x", "sqli", "norm")], "line 2: attack_type and label disagree"),
    ],
)
def test_load_http_params_rejects_bad_labels(tmp_path: Path, rows, message: str) -> None:
    with pytest.raises(InputError, match=message):
        load_http_params(_write(tmp_path / "p.csv", rows))


def test_load_http_params_missing(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_http_params(tmp_path / "nope.csv")
    (tmp_path / "cols.csv").write_text("payload,kind\nx,y\n")
    with pytest.raises(InputError, match="attack_type"):
        load_http_params(tmp_path / "cols.csv")


def test_payload_job_on_a_subset(shared_data: Path, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    result = train_payload_classifier(
        shared_data / "http_params" / "payload_train.csv",
        shared_data / "http_params" / "payload_test.csv",
        out_dir=folder,
        config=SMALL,
        max_train_rows=2500,
        max_test_rows=1000,
        epochs=4,
        batch_size=32,
        progress=False,
    )
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics == json.loads(json.dumps(result.metrics))
    for name in ("cnn", "baseline"):
        part = metrics[name]
        assert part["multiclass"]["accuracy"] > 0.95, (name, part["multiclass"]["accuracy"])
        assert part["binary"]["roc_auc"] > 0.97
        assert {"precision", "recall", "f1", "fpr", "ece", "reliability_curve"} <= set(
            part["binary"]
        )
        assert set(part["per_group"]["attack_class"]) == {
            "clean", "sqli", "xss", "traversal", "cmdi"
        }  # fmt: skip
    assert metrics["rows"]["test"] == 1000
    assert set(metrics["comparison"]) >= {"accuracy", "macro_f1", "roc_auc", "fpr"}
    card = json.loads((folder / "card.json").read_text())
    assert card["seed"] == 0 and card["name"] == "charcnn-attack-payloads"

    loaded = load_text_model(folder)
    texts = ["1' union select password from users--", "calle mayor 3", "<svg onload=alert(1)>"]
    assert np.array_equal(loaded.score_1_99(texts), result.model.score_1_99(texts))
    assert loaded.text_encoder().max_len == 128

    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="model.safetensors"):
        load_text_model(folder)


# -- CSIC-style raw requests -----------------------------------------------------------------
_NAMES = ["id", "nombre", "precio", "cantidad", "modo", "login", "pwd", "email", "ciudad"]
_VALUES = ["2", "Jam%F3n+Ib%E9rico", "85", "49", "insertar", "grimshaw", "p4ssw0rd",
           "ana%40example.com", "Madrid", "Vino+Rioja", "A%F1adir+al+carrito"]  # fmt: skip
_ATTACKS = ["%27+or+%271%27%3D%271", "%3Cscript%3Ealert%28document.cookie%29%3C%2Fscript%3E",
            "..%2F..%2F..%2Fetc%2Fpasswd", "1%3B+ls+-la", "%27%3B+DROP+TABLE+users%3B--",
            "%3Cimg+src%3Dx+onerror%3Dalert%281%29%3E", "bob%40x.com%27+union+select+1%2C2--"]  # fmt: skip
_PATHS = ["/tienda1/publico/anadir.jsp", "/tienda1/publico/autenticar.jsp",
          "/tienda1/miembros/editar.jsp", "/tienda1/publico/pagar.jsp"]  # fmt: skip


def csic_rows(n: int, seed: int) -> pd.DataFrame:
    """Hand-made rows in the shape the CSIC dump parser writes to http_requests."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        bad = i % 2 == 1
        params = [f"{rng.choice(_NAMES)}={rng.choice(_VALUES)}" for _ in range(rng.integers(2, 5))]
        if bad:
            params[rng.integers(len(params))] = f"{rng.choice(_NAMES)}={rng.choice(_ATTACKS)}"
        post = rng.random() < 0.4
        query = "&".join(params)
        rows.append(
            {
                "RayID": f"csic-{i:05d}",
                "EdgeStartTimestamp": pd.Timestamp("2010-01-01", tz="UTC"),
                "ClientRequestMethod": "POST" if post else "GET",
                "ClientRequestHost": "localhost:8080",
                "ClientRequestPath": str(rng.choice(_PATHS)),
                "ClientRequestQuery": "" if post else query,
                "RequestBody": query if post else "",
                "ClientRequestUserAgent": "Mozilla/5.0 (compatible; Konqueror/3.5; Linux)",
                "RequestHeaders": {
                    "accept": "text/xml,application/xml,text/html;q=0.9,*/*;q=0.5",
                    "accept-language": "en",
                    "cookie": f"JSESSIONID={rng.integers(10**15):016X}",
                    **({"content-type": "application/x-www-form-urlencoded"} if post else {}),
                },
                "Source": "csic-2010-style",
                "label": "anomalous" if bad else "normal",
            }
        )
    return pd.DataFrame(rows)


def test_request_job_on_csic_style_rows_from_the_store(embedded_store, tmp_path: Path) -> None:
    embedded_store.insert_df("http_requests", csic_rows(400, seed=0))
    frame = embedded_store.query_df(
        "SELECT * FROM http_requests WHERE Source = {source:String} ORDER BY RayID",
        parameters={"source": "csic-2010-style"},
    )
    assert len(frame) == 400
    result = train_request_classifier(
        frame,
        label_col="label",
        out_dir=tmp_path / "csic",
        config=SMALL,
        epochs=6,
        batch_size=16,
        progress=False,
    )
    m = result.metrics
    assert m["task"] == "attack head" and "multiclass" not in m["cnn"]
    assert m["rows"] == {"train": 288, "validation": 32, "test": 80}
    assert m["test_label_counts"] == {"attack": 40, "clean": 40}
    assert m["cnn"]["binary"]["roc_auc"] > 0.9, m["cnn"]["binary"]
    assert m["baseline"]["binary"]["roc_auc"] > 0.9
    assert set(m["cnn"]["per_group"]["label"]) == {"anomalous", "normal"}
    assert m["data"]["sources"] == ["csic-2010-style"]
    loaded = load_text_model(tmp_path / "csic")
    assert np.array_equal(
        loaded.score_1_99(frame.iloc[:20]), result.model.score_1_99(frame.iloc[:20])
    )


def test_request_job_bot_head_with_actor_groups() -> None:
    frame = csic_rows(200, seed=1)
    frame["label"] = np.where(frame["label"] == "anomalous", "bad_bot", "human")
    frame.loc[frame["label"] == "bad_bot", "ClientRequestUserAgent"] = "python-requests/2.31"
    frame["actor"] = np.where(frame["label"] == "human", "shopper", "scraper")
    result = train_request_classifier(
        frame, label_col="label", config=SMALL, epochs=3, batch_size=16, progress=False
    )
    assert result.model.head == "bot"
    assert set(result.metrics["cnn"]["per_group"]["actor"]) == {"shopper", "scraper"}
    assert result.metrics["cnn"]["binary"]["recall"] is not None


def test_request_job_errors() -> None:
    frame = csic_rows(40, seed=2)
    with pytest.raises(InputError, match="no 'attack_class' column"):
        train_request_classifier(frame, progress=False)
    frame["label"] = "weird"
    with pytest.raises(InputError, match="cannot tell which head"):
        train_request_classifier(frame, label_col="label", progress=False)
    with pytest.raises(InputError, match="not in the label map"):
        train_request_classifier(frame, label_col="label", head="attack", progress=False)
    with pytest.raises(InputError, match="split must be"):
        train_request_classifier(
            frame, label_col="label", label_map={"weird": "clean"}, split="x", progress=False
        )


@pytest.mark.slow
def test_full_payload_data_reaches_99_percent(shared_data: Path, tmp_path: Path) -> None:
    result = train_payload_classifier(
        shared_data / "http_params" / "payload_train.csv",
        shared_data / "http_params" / "payload_test.csv",
        out_dir=tmp_path / "full",
        progress=False,
    )
    cnn = result.metrics["cnn"]["multiclass"]
    assert cnn["n"] == 10_355
    assert cnn["accuracy"] >= 0.99, cnn
    assert result.metrics["baseline"]["multiclass"]["accuracy"] >= 0.99
