"""A character-level CNN over request text, with a bot head and an attack head.

Read top to bottom: the config, the network, batched inference, then the scikit-learn
style estimator that trains it.

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

import copy
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from workbench.errors import InputError
from workbench.features.text import PAD_ID, VOCAB_SIZE, TextEncoder
from workbench.models.calibration import ScoreCalibrator

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


# -- the estimator ---------------------------------------------------------------------------
def _train_threads(n_threads: int | None) -> int:
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
def _torch_settings(seed: int, n_threads: int):
    """Seed torch, use deterministic kernels and ``n_threads`` threads; restore afterwards."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    with torch.random.fork_rng(devices=[]), torch_threads(n_threads):
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(deterministic)


def _is_unlabelled(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA


def _target_masks(labels: Any, classes: Sequence[str], what: str) -> np.ndarray:
    """Turn labels into an ``(N, C)`` mask of allowed classes (all false = unlabelled)."""
    values = list(labels)
    mask = np.zeros((len(values), len(classes)), dtype=bool)
    index = {c: i for i, c in enumerate(classes)}
    unknown = set()
    for row, value in enumerate(values):
        if _is_unlabelled(value):
            continue
        value = str(value)
        if value == ANY_BAD:
            mask[row, 1:] = True
        elif value in index:
            mask[row, index[value]] = True
        else:
            unknown.add(value)
    if unknown:
        raise InputError(
            f"{what} has labels {sorted(unknown)}; expected {list(classes)}, {ANY_BAD!r} "
            "(any bad class) or None (unlabelled)"
        )
    return mask


def _label_keys(mask: np.ndarray) -> np.ndarray:
    """One integer per row identifying its label (class index, C for 'any bad', -1 none)."""
    keys = np.where(mask.any(axis=1), mask.argmax(axis=1), -1)
    keys[mask.sum(axis=1) > 1] = mask.shape[1]
    return keys


def _row_weights(mask: np.ndarray, class_weight: Any, classes: Sequence[str]) -> np.ndarray:
    """Per-row loss weights from the class-weight setting, computed on the training rows."""
    keys = _label_keys(mask)
    weights = np.ones(len(mask), dtype=np.float32)
    labelled = keys >= 0
    if class_weight is None:
        pass
    elif class_weight in ("balanced", "sqrt"):
        present, counts = np.unique(keys[labelled], return_counts=True)
        per_key = labelled.sum() / (len(present) * counts)
        if class_weight == "sqrt":
            per_key = np.sqrt(per_key)
        for key, w in zip(present, per_key, strict=True):
            weights[keys == key] = w
    elif isinstance(class_weight, Mapping):
        names = [*classes, ANY_BAD]
        for key, name in enumerate(names):
            weights[keys == key] = float(class_weight.get(name, 1.0))
    else:
        raise InputError(
            f"class_weight must be 'balanced', 'sqrt', None or a mapping, not {class_weight!r}"
        )
    weights[~labelled] = 0.0
    return weights


def _set_loss(logits: torch.Tensor, allowed: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Weighted mean of -log P(label), where a label may allow several classes."""
    labelled = allowed.any(dim=1)  # unlabelled rows are left out (no -inf, no NaN gradient)
    logits, allowed, weights = logits[labelled], allowed[labelled], weights[labelled]
    log_p_allowed = torch.logsumexp(logits.masked_fill(~allowed, float("-inf")), dim=1)
    loss = torch.logsumexp(logits, dim=1) - log_p_allowed  # (B,)
    return (loss * weights).sum() / weights.sum().clamp(min=1e-12)


class CharCNNClassifier:
    """Train :class:`CharCNN` with scikit-learn conventions; probabilities and 1–99 scores.

    Parameters
    ----------
    config : CharCNNConfig, optional
        Network hyperparameters (default :class:`CharCNNConfig`).
    head : {"attack", "bot"}, default "attack"
        The head :meth:`predict_proba`, :meth:`predict` and :meth:`score_1_99` use.
    encoder : TextEncoder, optional
        How texts or request rows become ids (default: ``max_len`` of the config).
    epochs : int, default 20
        Maximum passes over the training data.
    batch_size : int, default 64
    lr : float, default 3e-3
        AdamW learning rate (cosine-decayed to 10% over ``epochs``).
    weight_decay : float, default 1e-4
    patience : int, default 3
        Stop after this many epochs without a lower validation loss; the best epoch's
        weights are kept.
    class_weight : {"balanced", "sqrt"}, mapping or None, default "sqrt"
        Loss weight per label: ``balanced`` is ``n / (n_labels * n_label)``, ``sqrt`` its
        square root (gentler on very rare classes).
    calibration : {"isotonic", "platt"}, default "isotonic"
        How the bad-class probability is calibrated on the validation data.
    val_fraction : float, default 0.1
        Share of the training data held out for validation when ``fit`` gets none.
    seed : int, default 0
        Controls initialisation, shuffling, dropout and the validation split.
    n_threads : int, optional
        Torch CPU threads while fitting (default: 1 on up to 2 CPUs, else half of them).
    n_jobs : int, optional
        Threads running prediction batches, one torch thread each (default: the CPUs
        available, at most 8). Results do not depend on it.
    progress : bool, default True
        Show a progress bar on stderr while fitting.

    Attributes
    ----------
    model_ : CharCNN
        The trained network (best validation epoch).
    heads_ : tuple of str
        Heads that were trained (had labels).
    classes_ : numpy.ndarray
        Class names of ``head``.
    calibrators_ : dict of str to ScoreCalibrator
        One per trained head, fitted on validation data.
    history_ : list of dict
        Per epoch: mean training loss and validation loss.
    best_epoch_ : int
        The epoch whose weights were kept (1-based).
    """

    def __init__(
        self,
        config: CharCNNConfig | None = None,
        head: str = "attack",
        encoder: TextEncoder | None = None,
        epochs: int = 20,
        batch_size: int = 64,
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        patience: int = 3,
        class_weight: Any = "sqrt",
        calibration: str = "isotonic",
        val_fraction: float = 0.1,
        seed: int = 0,
        n_threads: int | None = None,
        n_jobs: int | None = None,
        progress: bool = True,
    ) -> None:
        self.config = config
        self.head = head
        self.encoder = encoder
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.class_weight = class_weight
        self.calibration = calibration
        self.val_fraction = val_fraction
        self.seed = seed
        self.n_threads = n_threads
        self.n_jobs = n_jobs
        self.progress = progress

    # -- inputs ----------------------------------------------------------------------------
    def _config(self) -> CharCNNConfig:
        return self.config if self.config is not None else CharCNNConfig()

    def text_encoder(self) -> TextEncoder:
        """Return the encoding settings in use (``encoder``, or the config's ``max_len``)."""
        return self.encoder if self.encoder is not None else TextEncoder(self._config().max_len)

    def encode(self, X: Any) -> np.ndarray:
        """Return ``(N, L)`` byte ids for ids, texts or ``http_requests`` rows.

        Parameters
        ----------
        X : numpy.ndarray, sequence of str, pandas.DataFrame or pyarrow.Table
            An integer id matrix is used as it is; strings are payload texts; a frame or
            table holds ``http_requests`` columns.

        Returns
        -------
        numpy.ndarray
            ``int16`` ids.
        """
        if isinstance(X, np.ndarray) and X.ndim == 2 and np.issubdtype(X.dtype, np.integer):
            if X.size and (X.min() < 0 or X.max() >= self._config().vocab_size):
                raise InputError(f"ids must lie in 0..{self._config().vocab_size - 1}")
            return X
        if isinstance(X, pd.DataFrame | pa.Table | pa.RecordBatch):
            return self.text_encoder().encode_requests(X)
        if isinstance(X, str):
            raise InputError("X must be a sequence of texts, not one string")
        return self.text_encoder().encode_texts(X)

    def _labels(self, y: Any, n: int) -> dict[str, np.ndarray]:
        config = self._config()
        y_map = y if isinstance(y, Mapping) else {self.head: y}
        masks = {}
        for head, labels in y_map.items():
            classes = config.classes(head)
            labels = list(labels)
            if len(labels) != n:
                raise InputError(f"{head} labels: {len(labels)} values for {n} rows")
            masks[head] = _target_masks(labels, classes, f"{head} labels")
        return masks

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, X: Any, y: Any, X_val: Any = None, y_val: Any = None) -> CharCNNClassifier:
        """Train on ``X, y``, stop early on the validation loss, calibrate on validation.

        Parameters
        ----------
        X : ids, sequence of str, pandas.DataFrame or pyarrow.Table
            Training inputs (see :meth:`encode`).
        y : array-like or mapping of head -> array-like
            Class names of ``head`` (``"attack"`` for an attack of unknown type, ``None`` for
            unlabelled), or labels for several heads at once: ``{"bot": ..., "attack": ...}``.
        X_val, y_val : optional
            Validation data; when omitted, a stratified ``val_fraction`` of ``X`` is used.

        Returns
        -------
        CharCNNClassifier
            ``self``.

        Raises
        ------
        InputError
            On malformed inputs or labels, or validation data without both good and bad
            rows for a trained head.
        """
        config = self._config()
        config.classes(self.head)
        ids = self.encode(X)
        masks = self._labels(y, len(ids))
        if (X_val is None) != (y_val is None):
            raise InputError("pass both X_val and y_val, or neither")
        if X_val is None:
            ids, masks, val_ids, val_masks = self._split(ids, masks)
        else:
            val_ids = self.encode(X_val)
            val_masks = self._labels(y_val, len(val_ids))
        heads = tuple(h for h in CharCNN.HEADS if h in masks and masks[h].any())
        if self.head not in heads:
            raise InputError(f"no training labels for the {self.head!r} head")
        for h in heads:
            good = val_masks.get(h, np.zeros((0, 1), bool))
            if not (good[:, 0] & (good.sum(1) == 1)).any() or not good[:, 1:].any():
                raise InputError(f"validation data needs both good and bad rows for head {h!r}")
        if ids.shape[0] < 2:
            raise InputError("need at least 2 training rows")

        rng = np.random.default_rng(self.seed)
        with _torch_settings(self.seed, _train_threads(self.n_threads)):
            model = CharCNN(config)
            self._train(model, ids, masks, val_ids, val_masks, heads, rng)
            self.model_ = model.eval()
            self.heads_ = heads
            self.classes_ = np.array(config.classes(self.head), dtype=object)
            logits = predict_logits(self.model_, val_ids, heads=heads)
            self.calibrators_ = {}
            for h in heads:
                labelled = val_masks[h].any(axis=1)
                p_bad = 1.0 - _softmax(logits[h])[labelled, 0]
                y_bad = ~val_masks[h][labelled, 0]
                self.calibrators_[h] = ScoreCalibrator(self.calibration).fit(p_bad, y_bad)
        return self

    def _split(self, ids: np.ndarray, masks: dict[str, np.ndarray]) -> tuple:
        if not 0.0 < self.val_fraction < 1.0:
            raise InputError(f"val_fraction must lie in (0, 1), got {self.val_fraction}")
        from sklearn.model_selection import train_test_split

        strata = _label_keys(masks[self.head]) if self.head in masks else None
        _, counts = np.unique(strata, return_counts=True)
        idx = np.arange(len(ids))
        tr, va = train_test_split(
            idx,
            test_size=self.val_fraction,
            random_state=self.seed,
            stratify=strata if counts.min() >= 2 else None,
        )
        return (
            ids[tr],
            {h: m[tr] for h, m in masks.items()},
            ids[va],
            {h: m[va] for h, m in masks.items()},
        )

    def _batches(self, lengths: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
        """Shuffled batches of rows of similar length (sorted within pools of 50 batches)."""
        order = rng.permutation(len(lengths))
        pool = self.batch_size * 50
        batches = []
        for start in range(0, len(order), pool):
            chunk = order[start : start + pool]
            chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
            batches += [
                chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)
            ]
        return [batches[i] for i in rng.permutation(len(batches))]

    def _loss(
        self, model: CharCNN, ids: np.ndarray, masks: dict, weights: dict, rows: np.ndarray
    ) -> torch.Tensor:
        width = max(int(text_lengths(ids[rows]).max()), 1)
        logits = model(torch.from_numpy(ids[rows, :width].astype(np.int32)))
        total = torch.zeros(())
        for h in masks:
            allowed = torch.from_numpy(masks[h][rows])
            if allowed.any():
                total = total + _set_loss(logits[h], allowed, torch.from_numpy(weights[h][rows]))
        return total

    def _train(self, model, ids, masks, val_ids, val_masks, heads, rng) -> None:
        config = self._config()
        masks = {h: masks[h] for h in heads}
        val_masks = {h: val_masks[h] for h in heads}
        weights = {h: _row_weights(masks[h], self.class_weight, config.classes(h)) for h in heads}
        val_weights = {h: (val_masks[h].any(1)).astype(np.float32) for h in heads}
        optimizer = torch.optim.AdamW(
            model.parameters(), lr=self.lr, weight_decay=self.weight_decay
        )
        lengths = text_lengths(ids)
        n_batches = -(-len(ids) // self.batch_size)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=max(self.epochs * n_batches, 1), eta_min=self.lr * 0.1
        )
        best, best_state, waited = float("inf"), None, 0
        self.history_ = []
        bar = tqdm(
            total=self.epochs * n_batches,
            desc="char-CNN",
            unit="batch",
            disable=not self.progress,
            leave=False,
        )
        try:
            for epoch in range(1, self.epochs + 1):
                model.train()
                losses = []
                for rows in self._batches(lengths, rng):
                    loss = self._loss(model, ids, masks, weights, rows)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    scheduler.step()
                    losses.append(float(loss.detach()))
                    bar.update(1)
                val_loss = self._val_loss(model, val_ids, val_masks, val_weights)
                self.history_.append(
                    {"epoch": epoch, "train_loss": float(np.mean(losses)), "val_loss": val_loss}
                )
                bar.set_postfix(epoch=epoch, train=f"{np.mean(losses):.4f}", val=f"{val_loss:.4f}")
                if val_loss < best - 1e-5:
                    best, best_state, waited = val_loss, copy.deepcopy(model.state_dict()), 0
                    self.best_epoch_ = epoch
                else:
                    waited += 1
                    if waited >= self.patience:
                        break
        finally:
            bar.close()
        model.load_state_dict(best_state)

    @torch.inference_mode()
    def _val_loss(self, model: CharCNN, ids: np.ndarray, masks: dict, weights: dict) -> float:
        logits = predict_logits(model, ids, heads=tuple(masks))
        total = 0.0
        for h, mask in masks.items():
            total += float(
                _set_loss(
                    torch.from_numpy(logits[h]),
                    torch.from_numpy(mask),
                    torch.from_numpy(weights[h]),
                )
            )
        return total

    # -- prediction ------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise InputError("the CharCNNClassifier is not fitted; call fit() first")

    def _head(self, head: str | None) -> str:
        head = head or self.head
        if head not in self.heads_:
            raise InputError(f"head {head!r} was not trained (trained: {list(self.heads_)})")
        return head

    def predict_proba(self, X: Any, head: str | None = None) -> np.ndarray:
        """Return class probabilities ``(N, C)`` of a head (default: ``head``).

        Parameters
        ----------
        X : ids, sequence of str, pandas.DataFrame or pyarrow.Table
            Inputs (see :meth:`encode`).
        head : str, optional
            ``"attack"`` or ``"bot"``.

        Returns
        -------
        numpy.ndarray
            Probabilities; columns follow the head's classes (the good class first).
        """
        self._check_fitted()
        head = self._head(head)
        ids = self.encode(X)
        logits = predict_logits(self.model_, ids, heads=(head,), n_workers=self.n_jobs)[head]
        return _softmax(logits)

    def predict(self, X: Any, head: str | None = None) -> np.ndarray:
        """Return the most likely class name of each row."""
        self._check_fitted()
        head = self._head(head)
        proba = self.predict_proba(X, head)
        classes = np.array(self._config().classes(head), dtype=object)
        return classes[proba.argmax(axis=1)]

    def predict_bad_proba(self, X: Any, head: str | None = None, calibrated: bool = True):
        """Return the probability of the bad class (automated, any attack) per row.

        Parameters
        ----------
        X : ids, sequence of str, pandas.DataFrame or pyarrow.Table
            Inputs.
        head : str, optional
            ``"attack"`` or ``"bot"`` (default ``head``).
        calibrated : bool, default True
            Apply the calibrator fitted on validation data.

        Returns
        -------
        numpy.ndarray
            Probabilities in ``[0, 1]``.
        """
        self._check_fitted()
        head = self._head(head)
        p_bad = 1.0 - self.predict_proba(X, head)[:, 0]
        return self.calibrators_[head].predict_proba(p_bad) if calibrated else p_bad

    def score_1_99(self, X: Any, head: str | None = None) -> np.ndarray:
        """Return calibrated scores, 1 = bad (attack, automated) to 99 = good.

        Parameters
        ----------
        X : ids, sequence of str, pandas.DataFrame or pyarrow.Table
            Inputs.
        head : str, optional
            ``"attack"`` (WAF attack score) or ``"bot"`` (bot score); default ``head``.

        Returns
        -------
        numpy.ndarray
            ``int16`` scores; below 30 means likely attack / likely automated.
        """
        self._check_fitted()
        head = self._head(head)
        return self.calibrators_[head].score(self.predict_bad_proba(X, head, calibrated=False))

    # -- saving ----------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Return everything needed to rebuild the fitted model, split for the artifact files.

        Returns
        -------
        dict
            ``weights`` (tensors), ``config`` (network and training settings), ``features``
            (the text encoding) and ``calibration`` (per head).
        """
        self._check_fitted()
        return {
            "weights": {k: v.detach().clone() for k, v in self.model_.state_dict().items()},
            "config": {
                "kind": "charcnn",
                "network": self._config().to_dict(),
                "head": self.head,
                "heads": list(self.heads_),
                "training": {
                    "epochs": self.epochs,
                    "batch_size": self.batch_size,
                    "lr": self.lr,
                    "weight_decay": self.weight_decay,
                    "patience": self.patience,
                    "class_weight": self.class_weight
                    if not isinstance(self.class_weight, Mapping)
                    else dict(self.class_weight),
                    "val_fraction": self.val_fraction,
                    "seed": self.seed,
                    "best_epoch": self.best_epoch_,
                    "history": self.history_,
                },
                "calibration": {h: c.to_dict() for h, c in self.calibrators_.items()},
            },
            "features": {"kind": "request_text_bytes", **self.text_encoder().to_dict()},
        }

    @classmethod
    def from_state(
        cls, weights: Mapping[str, torch.Tensor], config: Mapping[str, Any], features: Mapping
    ) -> CharCNNClassifier:
        """Rebuild a fitted classifier from :meth:`state` (as loaded from a model folder).

        Raises
        ------
        InputError
            When the files describe another kind of model or do not fit together.
        """
        if config.get("kind") != "charcnn":
            raise InputError(f"config describes a {config.get('kind')!r} model, not 'charcnn'")
        network = CharCNNConfig.from_dict(config["network"])
        training = config.get("training", {})
        est = cls(
            network,
            head=config["head"],
            encoder=TextEncoder.from_dict(features),
            seed=int(training.get("seed", 0)),
            calibration=next(iter(config["calibration"].values()))["method"],
        )
        model = CharCNN(network)
        try:
            model.load_state_dict(dict(weights))
        except RuntimeError as exc:
            raise InputError(f"weights do not match the network config: {exc}") from None
        est.model_ = model.eval()
        est.heads_ = tuple(config["heads"])
        est.classes_ = np.array(network.classes(est.head), dtype=object)
        est.calibrators_ = {
            h: ScoreCalibrator.from_dict(v) for h, v in config["calibration"].items()
        }
        est.history_ = list(training.get("history", []))
        est.best_epoch_ = int(training.get("best_epoch", 0))
        return est


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
