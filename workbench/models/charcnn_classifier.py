"""The scikit-learn style estimator that trains :class:`~workbench.models.charcnn.CharCNN`.

:class:`CharCNNClassifier` encodes inputs, fits with early stopping on a validation loss,
calibrates each trained head on validation data, predicts probabilities and 1–99 scores, and
saves to / rebuilds from the artifact files (:meth:`CharCNNClassifier.state`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import torch
from tqdm.auto import tqdm

from workbench.errors import InputError
from workbench.features.text import TextEncoder
from workbench.models.calibration import ScoreCalibrator
from workbench.models.charcnn import (
    CharCNN,
    CharCNNConfig,
    predict_logits,
    text_lengths,
    torch_settings,
    train_threads,
)
from workbench.models.charcnn_targets import label_keys, row_weights, set_loss, target_masks


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
            masks[head] = target_masks(labels, classes, f"{head} labels")
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
        with torch_settings(self.seed, train_threads(self.n_threads)):
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

        strata = label_keys(masks[self.head]) if self.head in masks else None
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
                total = total + set_loss(logits[h], allowed, torch.from_numpy(weights[h][rows]))
        return total

    def _train(self, model, ids, masks, val_ids, val_masks, heads, rng) -> None:
        config = self._config()
        masks = {h: masks[h] for h in heads}
        val_masks = {h: val_masks[h] for h in heads}
        weights = {h: row_weights(masks[h], self.class_weight, config.classes(h)) for h in heads}
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
                set_loss(
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
