"""The char-CNN: shapes, padding invariance, the estimator's conventions and determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.errors import InputError
from workbench.features import encode_texts
from workbench.models import CharCNN, CharCNNClassifier, CharCNNConfig, predict_logits

SMALL = CharCNNConfig(max_len=64, embed_dim=8, n_filters=16, hidden=16)
ATTACKS = {
    "sqli": ["' or 1=1 --", "1 union select user,pass from users", "admin'--", "1; drop table x"],
    "xss": ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "javascript:alert(2)"],
    "traversal": ["../../etc/passwd", "..%2f..%2fwindows/win.ini", "....//....//etc/shadow"],
    "cmdi": ["; cat /etc/passwd", "| id", "`uname -a`", "&& ping -c 1 10.0.0.1"],
}
CLEAN = ["john smith", "madrid", "c/ mayor 12", "42", "hello world", "blue shirt", "2020-01-01"]


def toy_data(n: int, seed: int) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        label = rng.choice(["clean"] * 4 + list(ATTACKS))
        pool = CLEAN if label == "clean" else ATTACKS[label]
        texts.append(str(rng.choice(pool)) + " " + str(rng.integers(0, 1000)))
        labels.append(str(label))
    return texts, labels


@pytest.fixture(scope="module")
def fitted() -> CharCNNClassifier:
    X, y = toy_data(600, seed=0)
    return CharCNNClassifier(SMALL, epochs=8, batch_size=8, seed=0, progress=False).fit(X, y)


def test_forward_shapes() -> None:
    model = CharCNN(CharCNNConfig())
    out = model(torch.randint(0, 257, (3, 40)))
    assert out["bot"].shape == (3, 2) and out["attack"].shape == (3, 5)
    assert model.trunk(torch.zeros(2, 5, dtype=torch.long)).shape == (2, 64)


@settings(max_examples=25, deadline=None)
@given(lengths=st.lists(st.integers(0, 30), min_size=1, max_size=6), extra=st.integers(0, 40))
def test_output_ignores_trailing_padding(lengths: list[int], extra: int) -> None:
    torch.manual_seed(0)
    model = CharCNN(SMALL).eval()
    width = max(lengths)
    ids = torch.zeros(len(lengths), width + extra, dtype=torch.long)
    for row, n in enumerate(lengths):
        ids[row, :n] = torch.randint(1, 257, (n,))
    with torch.no_grad():
        full, cut = model(ids), model(ids[:, : max(width, 1)])
    for head in ("bot", "attack"):
        assert torch.allclose(full[head], cut[head], atol=1e-5)


def test_predict_logits_batches_in_length_order_but_returns_input_order() -> None:
    torch.manual_seed(0)
    model = CharCNN(SMALL).eval()
    ids = encode_texts(["a", "much longer text here", "", "mid size"] * 30, max_len=64)
    with torch.no_grad():
        direct = model(torch.from_numpy(ids.astype(np.int64)))
    for workers in (1, 3):
        got = predict_logits(model, ids, batch_size=7, n_workers=workers)
        for head in ("bot", "attack"):
            assert np.allclose(got[head], direct[head].numpy(), atol=1e-5)


def test_config_validation() -> None:
    with pytest.raises(InputError, match="n_filters"):
        CharCNNConfig(n_filters=0)
    with pytest.raises(InputError, match="dropout"):
        CharCNNConfig(dropout=1.0)
    with pytest.raises(InputError, match="kernel_sizes"):
        CharCNNConfig(kernel_sizes=())
    with pytest.raises(InputError, match="2\\+ distinct"):
        CharCNNConfig(attack_classes=("clean",))
    with pytest.raises(InputError, match="unknown CharCNN config"):
        CharCNNConfig.from_dict({"layers": 3})
    assert CharCNNConfig.from_dict(SMALL.to_dict()) == SMALL


def test_fitted_estimator(fitted: CharCNNClassifier) -> None:
    X, y = toy_data(300, seed=1)
    proba = fitted.predict_proba(X)
    assert proba.shape == (300, 5) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert list(fitted.classes_) == list(SMALL.attack_classes)
    assert (fitted.predict(X) == np.array(y)).mean() > 0.9
    scores = fitted.score_1_99(X)
    assert scores.dtype == np.int16 and scores.min() >= 1 and scores.max() <= 99
    clean = np.array(y) == "clean"
    assert np.median(scores[clean]) > 70 and np.median(scores[~clean]) < 30
    assert fitted.heads_ == ("attack",) and 1 <= fitted.best_epoch_ <= 8
    assert [h["epoch"] for h in fitted.history_] == list(range(1, len(fitted.history_) + 1))
    # ids, texts and a numpy array of texts are the same input
    ids = fitted.encode(X)
    assert np.array_equal(fitted.predict_proba(ids), proba)
    assert np.array_equal(fitted.predict_proba(np.array(X, dtype=object)), proba)


def test_state_round_trip(fitted: CharCNNClassifier) -> None:
    X, _ = toy_data(50, seed=2)
    state = fitted.state()
    again = CharCNNClassifier.from_state(state["weights"], state["config"], state["features"])
    assert np.array_equal(again.score_1_99(X), fitted.score_1_99(X))
    assert np.allclose(again.predict_proba(X), fitted.predict_proba(X))


def test_same_seed_same_model_other_seed_other_model() -> None:
    X, y = toy_data(200, seed=3)
    make = lambda seed: CharCNNClassifier(  # noqa: E731
        SMALL, epochs=2, batch_size=32, seed=seed, progress=False
    ).fit(X, y)
    a, b, c = make(5), make(5), make(6)
    for name, tensor in a.model_.state_dict().items():
        assert torch.equal(tensor, b.model_.state_dict()[name]), name
    assert not torch.equal(a.model_.embed.weight, c.model_.embed.weight)
    assert a.history_ == b.history_


def test_fit_leaves_global_torch_state_alone() -> None:
    X, y = toy_data(100, seed=4)
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    CharCNNClassifier(SMALL, epochs=1, progress=False, n_threads=1).fit(X, y)
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads
    assert not torch.are_deterministic_algorithms_enabled()


def test_two_heads_and_unknown_attack_type() -> None:
    X, y = toy_data(300, seed=5)
    bot = ["automated" if label != "clean" else "human" for label in y]
    # CSIC-style: attack rows only say "attack"; every third bot label is missing
    coarse = [label if label == "clean" else "attack" for label in y]
    bot = [None if i % 3 == 0 else b for i, b in enumerate(bot)]
    est = CharCNNClassifier(SMALL, epochs=3, batch_size=32, progress=False, seed=1)
    est.fit(X, {"attack": coarse, "bot": bot})
    assert est.heads_ == ("bot", "attack")
    assert est.predict_proba(X, head="bot").shape == (300, 2)
    p_bad = est.predict_bad_proba(X)
    assert p_bad.shape == (300,) and ((p_bad >= 0) & (p_bad <= 1)).all()
    assert set(est.calibrators_) == {"bot", "attack"}
    assert all(torch.isfinite(p).all() for p in est.model_.parameters())
    assert all(np.isfinite(h["train_loss"]) and np.isfinite(h["val_loss"]) for h in est.history_)


def test_estimator_errors() -> None:
    X, y = toy_data(60, seed=6)
    est = CharCNNClassifier(SMALL, epochs=1, progress=False)
    with pytest.raises(InputError, match="not fitted"):
        est.predict_proba(X)
    with pytest.raises(InputError, match="labels \\['rce'\\]"):
        est.fit(X, y[:-1] + ["rce"])
    with pytest.raises(InputError, match="59 values for 60 rows"):
        est.fit(X, y[:-1])
    with pytest.raises(InputError, match="both X_val and y_val"):
        est.fit(X, y, X_val=X)
    with pytest.raises(InputError, match="both good and bad"):
        est.fit(X, y, X_val=X[:3], y_val=["clean"] * 3)
    with pytest.raises(InputError, match="unknown head"):
        CharCNNClassifier(SMALL, head="fraud", progress=False).fit(X, y)
    with pytest.raises(InputError, match="not one string"):
        est.encode("GET /")
    with pytest.raises(InputError, match="ids must lie"):
        est.encode(np.full((2, 4), 999))
    with pytest.raises(InputError, match="no training labels"):
        CharCNNClassifier(SMALL, head="bot", progress=False).fit(X, {"attack": y})
