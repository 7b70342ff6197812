"""Gradient-based SHAP for the char-CNN, attributions summed per input character.

The method is expected gradients (what ``shap.GradientExplainer`` computes) with one
background: the empty request. The bytes are embedded, and along the straight path from
the embedding of an all-padding input (what the network sees for an empty text) to the
request's embedding the gradients of the output are averaged; each position's attribution
is its embedding difference times that average gradient, summed over the embedding
channels. ``shap.GradientExplainer`` draws the points on the path at random; here they are
the midpoints of ``steps`` equal intervals, so the result is deterministic and the
additivity gap ``f(x) - f(empty) - sum(values)`` shrinks as ``steps`` grows (the network is
piecewise linear in the embedding).

The explained output is the bad-class log-odds of the chosen head before calibration
(bot head: automated vs human; attack head: any attack vs clean). Bytes of one UTF-8
character are summed into that character, so ``data`` holds characters of the normalized
text the network saw (lowercased, digits collapsed, percent-decoded, cut to ``max_len``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shap
import torch
import torch.nn.functional as F

from workbench.errors import InputError
from workbench.features.text import PAD_ID
from workbench.models.charcnn import CharCNN, text_lengths, torch_threads
from workbench.models.charcnn_classifier import CharCNNClassifier
from workbench.models.tabular import default_threads


def _output(logits: torch.Tensor) -> torch.Tensor:
    """Bad-class log-odds: log P(any bad class) - log P(good class)."""
    return torch.logsumexp(logits[:, 1:], dim=1) - logits[:, 0]  # (B,)


def embedding_table(model: CharCNN) -> torch.Tensor:
    """Return the ``(V, E + 1)`` input table the network embeds ids with."""
    return torch.cat([model.embed.weight, model.present], dim=1)


def conv_maps(model: CharCNN, x: torch.Tensor) -> list[torch.Tensor]:
    """Return the convolution outputs ``(B, F, W_k)`` per kernel width for embedded inputs.

    ``x`` is ``(B, W, E + 1)``; the trailing positions :meth:`CharCNN.trunk` pads with are
    the padding row of the table. The maps are linear in ``x`` (the convolutions have no
    bias), which is what makes the explainer cheap.
    """
    table = embedding_table(model)
    k = max(model.config.kernel_sizes)
    pad = table[PAD_ID].expand(x.shape[0], k - 1, x.shape[2])  # (B, k - 1, E + 1)
    x = torch.cat([x, pad], dim=1)  # (B, W + k - 1, E + 1)
    x = x.unsqueeze(1).permute(0, 3, 1, 2)  # (B, E + 1, 1, W')
    return [F.conv2d(x, conv.weight.unsqueeze(2))[:, :, 0, :] for conv in model.convs]


def output_from_maps(model: CharCNN, maps: list[torch.Tensor], head: str) -> torch.Tensor:
    """Global max over positions, ReLU, MLP and the head: the bad-class log-odds ``(B,)``."""
    pooled = [m.amax(dim=2) for m in maps]  # (B, F) per width
    h = model.mlp(F.relu(torch.cat(pooled, dim=1)))  # (B, H)
    return _output(model.heads[head](h))


def forward_embedded(model: CharCNN, x: torch.Tensor, head: str) -> torch.Tensor:
    """Run the network from embedded inputs ``(B, W, E + 1)`` to the bad-class log-odds ``(B,)``.

    The same computation as :meth:`CharCNN.trunk` after its embedding lookup.
    """
    return output_from_maps(model, conv_maps(model, x), head)


def character_spans(ids: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Group the byte ids of one text into characters.

    Parameters
    ----------
    ids : numpy.ndarray
        ``(L,)`` ids of one row (padding excluded).

    Returns
    -------
    tuple
        The characters (an invalid byte shows as U+FFFD) and, per byte, the index of its
        character.
    """
    data = (np.asarray(ids, dtype=np.int64) - 1).astype(np.uint8)
    if not len(data):
        return [], np.zeros(0, dtype=np.int64)
    starts = (data & 0xC0) != 0x80  # a continuation byte joins the character before it
    starts[0] = True
    owner = np.cumsum(starts) - 1
    bounds = np.r_[np.flatnonzero(starts), len(data)]
    chars = [
        bytes(data[a:b]).decode("utf-8", "replace")
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    return chars, owner


class CNNExplainer:
    """Explain the char-CNN's bad-class log-odds per character of the request text.

    The convolutions are linear in the embedded input and every window of the empty
    request is alike, so along the path the max-pooled features move in a straight line:
    the gradients are averaged on them (the small MLP runs once per step) and carried back
    to the bytes once. The result equals the textbook computation (gradients with respect
    to the input at every step; the tests compare the two) at the cost of about one
    forward and backward pass, whatever ``steps`` is.

    Parameters
    ----------
    model : CharCNNClassifier
        A fitted (or loaded) classifier.
    head : {"bot", "attack"}, optional
        Default: the classifier's head.
    steps : int, default 128
        Points on the path from the empty request (more: smaller additivity gap; cheap).
    batch_size : int, default 64
        Requests per backward pass.
    n_threads : int, optional
        Torch threads while explaining (default: 1 on up to 2 CPUs, else half of them; on
        the project's 2-core machines one thread explained 1,000 requests 12x faster
        than two).
    """

    def __init__(
        self,
        model: CharCNNClassifier,
        head: str | None = None,
        steps: int = 128,
        batch_size: int = 64,
        n_threads: int | None = None,
    ) -> None:
        if not hasattr(model, "model_"):
            raise InputError("CNNExplainer needs a fitted CharCNNClassifier")
        self.model = model
        self.head = head or model.head
        if self.head not in model.heads_:
            raise InputError(f"head {self.head!r} was not trained (trained: {list(model.heads_)})")
        if int(steps) < 1 or int(batch_size) < 1:
            raise InputError("steps and batch_size must be positive")
        self.steps = int(steps)
        self.batch_size = int(batch_size)
        self.n_threads = n_threads

    def base_value(self) -> float:
        """Return the output for the empty request (the expected value of the explanation)."""
        net = self.model.model_
        with torch.no_grad():
            empty = embedding_table(net)[PAD_ID].reshape(1, 1, -1)
            return float(forward_embedded(net, empty, self.head)[0])

    def output(self, X: Any) -> np.ndarray:
        """Return the explained output (bad-class log-odds) per row."""
        ids = self.model.encode(X)
        net = self.model.model_
        out = np.empty(len(ids))
        with torch.no_grad(), torch_threads(default_threads(self.n_threads)):
            table = embedding_table(net)
            for start in range(0, len(ids), 256):
                block = ids[start : start + 256]
                width = max(int(text_lengths(block).max()), 1)
                x = table[torch.from_numpy(block[:, :width].astype(np.int64))]
                out[start : start + len(block)] = forward_embedded(net, x, self.head).numpy()
        return out

    def byte_attributions(self, ids: np.ndarray) -> np.ndarray:
        """Return ``(N, L)`` attributions per byte position (0 on padding).

        Parameters
        ----------
        ids : numpy.ndarray
            ``(N, L)`` byte ids.
        """
        ids = np.asarray(ids)
        net = self.model.model_.eval()
        out = np.zeros(ids.shape, dtype=np.float64)
        lengths = text_lengths(ids)
        order = np.argsort(lengths, kind="stable")  # similar lengths share a batch
        alphas = (torch.arange(self.steps, dtype=torch.float32) + 0.5) / self.steps  # (S,)
        with torch_threads(default_threads(self.n_threads)):
            table = embedding_table(net).detach()
            baseline = table[PAD_ID]  # (E + 1,)
            for start in range(0, len(ids), self.batch_size):
                rows = order[start : start + self.batch_size]
                attr = self._batch(net, table, baseline, ids, rows, alphas)  # (B, W)
                out[rows, : attr.shape[1]] = attr
        out[ids == PAD_ID] = 0.0
        return out

    def _batch(self, net, table, baseline, ids, rows, alphas) -> np.ndarray:
        """Attributions ``(B, W)`` for one batch of rows.

        Along the path from the empty request every convolution map moves in a straight
        line from a constant (all windows of the empty request are alike) to the request's
        map, so the position of each filter's maximum never changes and the max-pooled
        features move in a straight line too. The gradients are therefore averaged over the
        path on the pooled features (only the small MLP runs per step), then carried back
        once through the max pooling and the convolutions to the bytes.
        """
        width = max(int(text_lengths(ids[rows]).max()), 1)
        x = table[torch.from_numpy(ids[rows, :width].astype(np.int64))]  # (B, W, C)
        x0 = baseline.expand_as(x)  # (B, W, C)
        xv = x.clone().requires_grad_(True)
        maps = conv_maps(net, xv)  # (B, F, W_k) per width, linear in the input
        pooled = torch.cat([m.amax(dim=2) for m in maps], dim=1)  # (B, F_all)
        with torch.no_grad():
            pooled0 = torch.cat([m[:, :, 0] for m in conv_maps(net, x0)], dim=1)  # (B, F_all)
        steps, n = len(alphas), len(rows)
        delta = (pooled - pooled0).detach()
        path = (pooled0 + alphas[:, None, None] * delta[None]).reshape(steps * n, -1)
        path.requires_grad_(True)  # (S * B, F_all)
        h = net.mlp(F.relu(path))  # (S * B, H)
        (grad,) = torch.autograd.grad(_output(net.heads[self.head](h)).sum(), path)
        mean = grad.reshape(steps, n, -1).mean(dim=0)  # (B, F_all)
        (grad_x,) = torch.autograd.grad(pooled, xv, grad_outputs=mean)  # (B, W, C)
        return ((x - x0) * grad_x).sum(dim=2).detach().numpy()  # (B, W)

    def __call__(self, X: Any, instance_names: Any = None) -> shap.Explanation:
        """Explain requests (rows), texts or byte ids; one row per input.

        Parameters
        ----------
        X : ids, sequence of str, pandas.DataFrame or pyarrow.Table
            What :meth:`CharCNNClassifier.encode` accepts.
        instance_names : sequence, optional
            A name per row (RayID ...).

        Returns
        -------
        shap.Explanation
            ``values`` ``(N, C)`` per character (rows padded with 0 to the longest text),
            ``data`` ``(N, C)`` the characters ('' on padding), ``base_values`` ``(N,)``
            the output for the empty request, output = bad-class log-odds.
        """
        ids = self.model.encode(X)
        per_byte = self.byte_attributions(ids)
        rows_chars, rows_values = [], []
        for row in range(len(ids)):
            keep = ids[row] != PAD_ID
            chars, owner = character_spans(ids[row][keep])
            values = np.bincount(owner, weights=per_byte[row][keep], minlength=len(chars))
            rows_chars.append(chars)
            rows_values.append(values)
        width = max((len(c) for c in rows_chars), default=0)
        values = np.zeros((len(ids), width))
        data = np.full((len(ids), width), "", dtype=object)
        for row, (chars, vals) in enumerate(zip(rows_chars, rows_values, strict=True)):
            values[row, : len(vals)] = vals
            data[row, : len(chars)] = chars
        return shap.Explanation(
            values=values,
            base_values=np.full(len(ids), self.base_value()),
            data=data,
            feature_names=[f"char {i}" for i in range(width)],
            instance_names=None if instance_names is None else list(instance_names),
            output_names=f"{self.head} head: bad-class log-odds",
        )


def explain_cnn(
    model: CharCNNClassifier, X: Any, head: str | None = None, steps: int = 128
) -> shap.Explanation:
    """Explain char-CNN outputs per character (see :class:`CNNExplainer`).

    Parameters
    ----------
    model : CharCNNClassifier
        A fitted classifier.
    X : ids, sequence of str, pandas.DataFrame or pyarrow.Table
        Inputs.
    head : {"bot", "attack"}, optional
    steps : int, default 128

    Returns
    -------
    shap.Explanation
        Per-character values; see :meth:`CNNExplainer.__call__`.
    """
    return CNNExplainer(model, head=head, steps=steps)(X)


def text_row(explanation: shap.Explanation, row: int = 0) -> shap.Explanation:
    """Return one text's explanation without the padding columns (for the heat map)."""
    one = explanation[int(row)]
    data = np.asarray(one.data, dtype=object)
    n = int(sum(1 for c in data if c != ""))
    return shap.Explanation(
        values=np.asarray(one.values)[:n],
        base_values=one.base_values,
        data=data[:n],
        feature_names=list(explanation.feature_names or [])[:n] or None,
    )
