"""Gradient SHAP for the char-CNN: parity with the network, additivity, characters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shap
import torch

from workbench.errors import InputError
from workbench.explain import CNNExplainer, character_spans, explain_cnn, text_row
from workbench.explain.cnn import embedding_table, forward_embedded
from workbench.features import encode_texts
from workbench.features.text import PAD_ID
from workbench.models import CharCNNClassifier, CharCNNConfig

SMALL = CharCNNConfig(max_len=64, embed_dim=8, kernel_sizes=(3, 5), n_filters=12, hidden=16)
ATTACKS = ["' or 1=1 --", "<script>alert(1)</script>", "../../etc/passwd", "; cat /etc/passwd"]
CLEAN = ["john smith", "madrid", "c/ mayor 12", "blue shirt", "hello world"]


@pytest.fixture(scope="module")
def model() -> CharCNNClassifier:
    rng = np.random.default_rng(0)
    texts, labels = [], []
    for _ in range(400):
        bad = rng.random() < 0.4
        pool = ATTACKS if bad else CLEAN
        texts.append(str(rng.choice(pool)) + " " + str(rng.integers(0, 100)))
        labels.append(["sqli", "xss", "traversal", "cmdi"][rng.integers(0, 4)] if bad else "clean")
    # labels need not match the texts: the explainer only needs some trained network
    return CharCNNClassifier(SMALL, epochs=3, batch_size=16, seed=0, progress=False).fit(
        texts, labels
    )


def test_explained_output_is_the_networks_bad_class_log_odds(model) -> None:
    texts = ["<script>alert(1)</script>", "john", "x" * 200, ""]
    ex = CNNExplainer(model)
    p = model.predict_proba(texts)  # columns: clean first, then the attacks
    expected = np.log(p[:, 1:].sum(axis=1)) - np.log(p[:, 0])
    np.testing.assert_allclose(ex.output(texts), expected, atol=1e-4)
    assert ex.output([""])[0] == pytest.approx(ex.base_value(), abs=1e-5)


def test_values_add_up_and_the_gap_shrinks_with_steps(model) -> None:
    texts = ["' or 1=1 -- 7", "../../etc/passwd", "madrid 12", "<img src=x onerror=alert(1)>"]
    out = CNNExplainer(model).output(texts)
    gaps = {}
    for steps in (4, 64):
        exp = CNNExplainer(model, steps=steps)(texts)
        gaps[steps] = np.abs(exp.values.sum(axis=1) + exp.base_values - out)
    assert gaps[64].mean() < gaps[4].mean()
    scale = np.abs(out - CNNExplainer(model).base_value())
    assert np.all(gaps[64] <= 0.02 * scale + 1e-3)


def test_characters_padding_and_rows(model) -> None:
    texts = ["abc", "Héllo <b>"]
    exp = explain_cnn(model, texts)
    assert isinstance(exp, shap.Explanation) and exp.values.shape[0] == 2
    # normalized text (lowercase), one entry per character: the two bytes of é are one
    assert list(text_row(exp, 1).data) == list("héllo <b>")
    assert list(text_row(exp, 0).data) == ["a", "b", "c"]
    assert np.all(exp.values[0, 3:] == 0) and np.all(exp.data[0, 3:] == "")
    ids = encode_texts(["héllo"], max_len=SMALL.max_len)
    per_byte = CNNExplainer(model).byte_attributions(ids)[0]
    one = text_row(explain_cnn(model, ["héllo"]), 0)
    assert one.values[1] == pytest.approx(per_byte[1] + per_byte[2])  # é = 2 bytes
    assert np.all(per_byte[6:] == 0)


def test_character_spans_handle_invalid_bytes() -> None:
    ids = np.array([0x61, 0xC3, 0xA9, 0xFF, 0x62]) + 1  # a, é, an invalid byte, b
    chars, owner = character_spans(ids)
    assert chars == ["a", "é", "\ufffd", "b"]
    np.testing.assert_array_equal(owner, [0, 1, 1, 2, 3])
    chars, owner = character_spans(np.array([], dtype=np.int64))
    assert chars == [] and owner.shape == (0,)


def test_explains_request_rows_and_refuses_bad_use(model) -> None:
    rows = pd.DataFrame(
        {
            "ClientRequestMethod": ["GET", "POST"],
            "ClientRequestPath": ["/search", "/login"],
            "ClientRequestQuery": ["?q=%3Cscript%3E", ""],
        }
    )
    exp = CNNExplainer(model)(rows, instance_names=["r1", "r2"])
    assert list(exp.instance_names) == ["r1", "r2"]
    assert "".join(text_row(exp, 0).data).startswith("get /search?q=<script>")
    with pytest.raises(InputError, match="not trained"):
        CNNExplainer(model, head="bot")
    with pytest.raises(InputError, match="fitted"):
        CNNExplainer(CharCNNClassifier(SMALL))
    with pytest.raises(InputError, match="positive"):
        CNNExplainer(model, steps=0)


def _reference_attributions(model, ids: np.ndarray, steps: int) -> np.ndarray:
    """The textbook computation: gradients w.r.t. the embedded input at every path point."""
    net = model.model_
    table = embedding_table(net).detach()
    width = int((ids != PAD_ID).sum(axis=1).max())
    x = table[torch.from_numpy(ids[:, :width].astype(np.int64))]
    delta = x - table[PAD_ID]
    alphas = (torch.arange(steps, dtype=torch.float32) + 0.5) / steps
    path = (table[PAD_ID] + alphas[:, None, None, None] * delta[None]).reshape(-1, *x.shape[1:])
    path.requires_grad_(True)
    (grad,) = torch.autograd.grad(forward_embedded(net, path, model.head).sum(), path)
    mean = grad.reshape(steps, *x.shape).mean(dim=0)
    out = np.zeros(ids.shape)
    out[:, :width] = (delta * mean).sum(dim=2).detach().numpy()
    out[ids == PAD_ID] = 0.0
    return out


def test_fast_path_equals_input_gradients(model) -> None:
    ids = encode_texts(["' or 1=1 --", "madrid 12", "<svg onload=x>", "a"], max_len=SMALL.max_len)
    fast = CNNExplainer(model, steps=16, batch_size=3).byte_attributions(ids)
    np.testing.assert_allclose(fast, _reference_attributions(model, ids, 16), atol=1e-5)
