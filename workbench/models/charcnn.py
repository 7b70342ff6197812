"""A character-level CNN over request text, with a bot head and an attack head.

Read top to bottom: the config, the network, batched inference, then the torch settings
training runs under. The scikit-learn style estimator that trains the network is
:class:`~workbench.models.charcnn_classifier.CharCNNClassifier`.

The network sees the byte ids of :mod:`workbench.features.text` (0 = padding, byte ``b`` =
``b + 1``)::

    ids (B, L) -> byte embedding (B, L, E) -> convolutions of widths k1, k2, ... (B, F, L)
       -> global max over positions, ReLU -> concat (B, F * n_widths)
       -> MLP (B, H) -> heads: bot (B, 2) human/automated, attack (B, 5) clean/sqli/...

A window starting at position t covers t..t+k-1. Padding embeds to the zero vector and the
convolutions have no bias (a constant "this is a byte" input channel takes its place), so a
window wholly in the padding gives exactly 0 and, after the ReLU, never wins the max. The
output therefore does not depend on how much padding follows the text, and batches can be
cut to their longest text: that is what makes scoring fast on short requests.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from workbench.errors import InputError
from workbench.features.text import PAD_ID, VOCAB_SIZE

#: A label meaning "some attack, type unknown" (CSIC's anomalous): any class but the first.
ANY_BAD = "attack"


# -- configuration ---------------------------------------------------------------------------
@dataclass
class CharCNNConfig:
    """Hyperparameters of :class:`CharCNN` (saved as ``config.json`` next to the weights).

    The first class of each head is the good one (human, clean); the others are bad.
    """

    vocab_size: int = VOCAB_SIZE
    max_len: int = 512
    embed_dim: int = 16
    kernel_sizes: tuple[int, ...] = (3, 5)
    n_filters: int = 32  # per kernel width
    hidden: int = 64
    dropout: float = 0.1
    bot_classes: tuple[str, ...] = ("human", "automated")
    attack_classes: tuple[str, ...] = ("clean", "sqli", "xss", "traversal", "cmdi")

    def __post_init__(self) -> None:
        self.kernel_sizes = tuple(int(k) for k in self.kernel_sizes)
        self.bot_classes = tuple(str(c) for c in self.bot_classes)
        self.attack_classes = tuple(str(c) for c in self.attack_classes)
        positive = ("vocab_size", "max_len", "embed_dim", "n_filters", "hidden")
        for name in positive:
            if int(getattr(self, name)) < 1:
                raise InputError(f"CharCNNConfig.{name} must be positive")
        if not self.kernel_sizes or min(self.kernel_sizes) < 1:
            raise InputError("CharCNNConfig.kernel_sizes must be positive widths")
        if not 0.0 <= self.dropout < 1.0:
            raise InputError("CharCNNConfig.dropout must lie in [0, 1)")
        for head in ("bot", "attack"):
            classes = self.classes(head)
            if len(classes) < 2 or len(set(classes)) != len(classes) or ANY_BAD in classes:
                raise InputError(f"{head} classes must be 2+ distinct names, not {ANY_BAD!r}")

    def classes(self, head: str) -> tuple[str, ...]:
        """Return the class names of a head (``"bot"`` or ``"attack"``)."""
        if head == "bot":
            return self.bot_classes
        if head == "attack":
            return self.attack_classes
        raise InputError(f"unknown head {head!r}; the CNN has heads 'bot' and 'attack'")

    def to_dict(self) -> dict[str, Any]:
        """Return the config as JSON-ready values."""
        out = asdict(self)
        for key in ("kernel_sizes", "bot_classes", "attack_classes"):
            out[key] = list(out[key])
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> CharCNNConfig:
        """Rebuild a config written by :meth:`to_dict`."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(f"unknown CharCNN config keys: {unknown}")
        return cls(**dict(values))


# -- the network -----------------------------------------------------------------------------
class CharCNN(nn.Module):
    """Byte embedding, parallel 1-D convolutions, global max pooling, MLP, two heads."""

    HEADS = ("bot", "attack")

    def __init__(self, config: CharCNNConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.embed = nn.Embedding(c.vocab_size, c.embed_dim, padding_idx=PAD_ID)
        # One more input channel, fixed: 1 on a byte, 0 on padding. It plays the role of the
        # convolution bias, and a window lying wholly in the padding gives exactly 0.
        present = (torch.arange(c.vocab_size) != PAD_ID).float()[:, None]  # (V, 1)
        self.register_buffer("present", present, persistent=False)
        self.convs = nn.ModuleList(
            nn.Conv1d(c.embed_dim + 1, c.n_filters, k, bias=False) for k in c.kernel_sizes
        )
        self.mlp = nn.Sequential(
            nn.Linear(c.n_filters * len(c.kernel_sizes), c.hidden),
            nn.ReLU(),
            nn.Dropout(c.dropout),
        )
        self.heads = nn.ModuleDict({h: nn.Linear(c.hidden, len(c.classes(h))) for h in self.HEADS})

    def trunk(self, ids: torch.Tensor) -> torch.Tensor:
        """Shared features of a batch of byte ids ``(B, L)`` -> ``(B, H)``."""
        table = torch.cat([self.embed.weight, self.present], dim=1)  # (V, E + 1)
        kmax = max(self.config.kernel_sizes)
        ids = F.pad(ids, (0, max(kmax - 1, kmax - ids.shape[1])))  # (B, L'): windows overhang
        x = F.embedding(ids.long(), table, padding_idx=PAD_ID)  # (B, L', E + 1)
        # The same memory seen as a channels-last image (B, E + 1, 1, L'): no copy, and the
        # fastest convolution layout on CPU. conv2d with a (1, k) kernel is the 1-D conv.
        x = x.unsqueeze(1).permute(0, 3, 1, 2)  # (B, E + 1, 1, L')
        pooled = []
        for conv in self.convs:
            h = F.conv2d(x, conv.weight.unsqueeze(2))  # (B, F, 1, L' - k + 1)
            pooled.append(h.amax(dim=(2, 3)))  # (B, F)
        # Windows in the padding are exactly 0, so relu(max over all windows) equals
        # relu(max over the windows that start inside the text): padding length is irrelevant.
        z = F.relu(torch.cat(pooled, dim=1))  # (B, F * n_widths)
        return self.mlp(z)  # (B, H)

    def forward(self, ids: torch.Tensor) -> dict[str, torch.Tensor]:
        """Return the logits of both heads: ``{"bot": (B, 2), "attack": (B, 5)}``."""
        h = self.trunk(ids)  # (B, H)
        return {name: head(h) for name, head in self.heads.items()}  # (B, C) per head


# -- inference -------------------------------------------------------------------------------
def text_lengths(ids: np.ndarray) -> np.ndarray:
    """Return the number of non-padding positions of each row of ``(N, L)`` ids."""
    return (np.asarray(ids) != PAD_ID).sum(axis=1)


def available_cpus() -> int:
    """Return the CPUs this process may run on."""
    return max(1, len(os.sched_getaffinity(0)))


@contextmanager
def torch_threads(n_threads: int):
    """Use ``n_threads`` torch intra-op threads inside the block, then restore the setting."""
    before = torch.get_num_threads()
    if before != n_threads:
        torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        if before != n_threads:
            torch.set_num_threads(before)


def predict_logits(
    model: CharCNN,
    ids: np.ndarray,
    batch_size: int = 256,
    heads: Sequence[str] = CharCNN.HEADS,
    n_workers: int | None = None,
) -> dict[str, np.ndarray]:
    """Run the network over many rows of ids, batching rows of similar length together.

    Rows are sorted by text length and each batch is cut to its longest text (exact: the
    network ignores trailing padding); results come back in the input order. Batches run
    on ``n_workers`` threads with one torch thread each (torch's own intra-op threads are
    set to 1 meanwhile): on a small CPU this scales better than intra-op threads, which
    wait on each other at every layer, badly so when another process holds a core.

    Parameters
    ----------
    model : CharCNN
        The network (set to eval mode here).
    ids : numpy.ndarray
        ``(N, L)`` byte ids.
    batch_size : int, default 256
        Rows per forward pass.
    heads : sequence of str
        Heads to return.
    n_workers : int, optional
        Threads running batches (default: the CPUs available, at most 8).

    Returns
    -------
    dict of str to numpy.ndarray
        ``(N, C)`` float32 logits per head.
    """
    ids = np.asarray(ids)
    if ids.ndim != 2:
        raise InputError(f"ids must be a 2-D array (rows, positions), got shape {ids.shape}")
    model.eval()
    n = len(ids)
    out = {h: np.empty((n, len(model.config.classes(h))), dtype=np.float32) for h in heads}
    lengths = text_lengths(ids)
    order = np.argsort(lengths, kind="stable")
    starts = range(0, n, batch_size)

    def run(start: int) -> None:
        rows = order[start : start + batch_size]
        width = max(int(lengths[rows].max()), 1)
        with torch.inference_mode():
            h = model.trunk(torch.from_numpy(ids[rows, :width].astype(np.int32)))  # (B, H)
            for name in heads:
                out[name][rows] = model.heads[name](h).numpy()

    workers = min(n_workers or min(available_cpus(), 8), len(starts))
    with torch_threads(1):
        if workers <= 1:
            for start in starts:
                run(start)
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="wb-cnn") as pool:
                list(pool.map(run, starts))
    return out


# -- torch settings for training ----------------------------------------------------------
def train_threads(n_threads: int | None) -> int:
    """Torch threads for training: 1 on up to 2 CPUs, else half the CPUs (at most 8).

    The batches are small; on a 2-core machine torch's threads spend more time waiting on
    each other than computing (measured: 2.3 s per epoch on 1 thread, 31 s on 2 threads
    while another process used the second core).
    """
    if n_threads is None:
        cpus = available_cpus()
        return 1 if cpus <= 2 else min(cpus // 2, 8)
    if isinstance(n_threads, bool) or not isinstance(n_threads, int) or n_threads < 1:
        raise InputError(f"n_threads must be a positive integer, got {n_threads!r}")
    return n_threads


@contextmanager
def torch_settings(seed: int, n_threads: int):
    """Seed torch, use deterministic kernels and ``n_threads`` threads; restore afterwards."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    with torch.random.fork_rng(devices=[]), torch_threads(n_threads):
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(deterministic)
