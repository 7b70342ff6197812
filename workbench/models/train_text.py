"""Train the request-text models: the char-CNN and its baseline, evaluated side by side.

Two jobs share one flow (split, fit the CNN with early stopping, fit the baseline in the
same run, calibrate both on validation data, evaluate on held-out test data, save):

- :func:`train_payload_classifier` on HttpParamsDataset-style CSVs (parameter values
  labelled ``norm``, ``sqli``, ``xss``, ``path-traversal``, ``cmdi``);
- :func:`train_request_classifier` on ``http_requests`` rows (synthetic traffic with
  ``attack_class`` / ``label``, or CSIC-style dumps labelled ``normal`` / ``anomalous``).

The baseline is logistic regression on TF-IDF character n-grams (1–4, word-bounded) of the
same normalized text the CNN sees.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from workbench.errors import InputError
from workbench.features.text import TextEncoder, request_texts
from workbench.models.artifacts import load_model, save_model
from workbench.models.calibration import ScoreCalibrator
from workbench.models.charcnn import ANY_BAD, CharCNNConfig
from workbench.models.charcnn_classifier import CharCNNClassifier
from workbench.models.metrics import (
    evaluate_binary,
    evaluate_multiclass,
    expected_calibration_error,
)

#: HttpParamsDataset ``attack_type`` -> attack-head class.
HTTP_PARAMS_CLASSES = {
    "norm": "clean",
    "sqli": "sqli",
    "xss": "xss",
    "path-traversal": "traversal",
    "cmdi": "cmdi",
}
#: Label values understood without a ``label_map``, per head.
ATTACK_LABELS = {
    "": "clean",  # http_requests.attack_class is empty on clean requests
    "clean": "clean",
    "norm": "clean",
    "normal": "clean",
    "sqli": "sqli",
    "xss": "xss",
    "traversal": "traversal",
    "path-traversal": "traversal",
    "cmdi": "cmdi",
    "anom": ANY_BAD,
    "anomalous": ANY_BAD,
    "attack": ANY_BAD,
}
BOT_LABELS = {
    "human": "human",
    "good_bot": "automated",
    "bad_bot": "automated",
    "bot": "automated",
    "automated": "automated",
}


# -- the baseline ----------------------------------------------------------------------------
class CharNgramBaseline:
    """Logistic regression on TF-IDF character n-grams of the normalized text.

    Parameters
    ----------
    classes : sequence of str
        Class names; the first is the good one (clean, human).
    encoder : TextEncoder, optional
        Normalization settings (the CNN's, so both see the same text).
    ngram_range : tuple of int, default (1, 4)
    max_features : int, default 200_000
    C : float, default 10.0
        Inverse regularisation strength.
    calibration : {"isotonic", "platt"}, default "isotonic"
    seed : int, default 0

    Attributes
    ----------
    vectorizer_ : TfidfVectorizer
    model_ : LogisticRegression
    classes_ : numpy.ndarray
        Classes seen in training, in the model's column order.
    calibrator_ : ScoreCalibrator
    """

    def __init__(
        self,
        classes: Sequence[str],
        encoder: TextEncoder | None = None,
        ngram_range: tuple[int, int] = (1, 4),
        max_features: int = 200_000,
        C: float = 10.0,
        calibration: str = "isotonic",
        seed: int = 0,
    ) -> None:
        self.classes = classes
        self.encoder = encoder
        self.ngram_range = ngram_range
        self.max_features = max_features
        self.C = C
        self.calibration = calibration
        self.seed = seed

    def _normalize(self, texts: Sequence[str]) -> list[str]:
        return (self.encoder or TextEncoder()).normalize(texts)

    def fit(self, texts: Sequence[str], y: Sequence[str], val_texts, y_val) -> CharNgramBaseline:
        """Fit on texts and class names; calibrate the bad-class probability on validation."""
        self.vectorizer_ = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=tuple(self.ngram_range),
            max_features=self.max_features,
            sublinear_tf=True,
            dtype=np.float32,
        )
        X = self.vectorizer_.fit_transform(self._normalize(texts))
        self.model_ = LogisticRegression(
            C=self.C, class_weight="balanced", max_iter=3000, random_state=self.seed
        )
        self.model_.fit(X, np.asarray(y, dtype=object))
        self.classes_ = self.model_.classes_
        p_bad = self.predict_bad_proba(val_texts, calibrated=False)
        y_bad = np.asarray(y_val, dtype=object) != self.classes[0]
        self.calibrator_ = ScoreCalibrator(self.calibration).fit(p_bad, y_bad)
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Return class probabilities; columns follow ``classes_``."""
        return self.model_.predict_proba(self.vectorizer_.transform(self._normalize(texts)))

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """Return the most likely class name per text."""
        return self.classes_[self.predict_proba(texts).argmax(axis=1)]

    def predict_bad_proba(self, texts: Sequence[str], calibrated: bool = True) -> np.ndarray:
        """Return the probability of any class but the good one."""
        proba = self.predict_proba(texts)
        good = np.flatnonzero(self.classes_ == self.classes[0])
        p_bad = 1.0 - (proba[:, good[0]] if len(good) else 0.0)
        return self.calibrator_.predict_proba(p_bad) if calibrated else p_bad

    def score_1_99(self, texts: Sequence[str]) -> np.ndarray:
        """Return calibrated 1–99 scores (1 = bad)."""
        return self.calibrator_.score(self.predict_bad_proba(texts, calibrated=False))


# -- results ---------------------------------------------------------------------------------
@dataclass
class TextTrainingResult:
    """What a training job returns.

    Attributes
    ----------
    model : CharCNNClassifier
        The fitted CNN.
    baseline : CharNgramBaseline
        The fitted baseline.
    metrics : dict
        Everything written to ``metrics.json``.
    folder : Path or None
        The saved model folder.
    """

    model: CharCNNClassifier
    baseline: CharNgramBaseline
    metrics: dict[str, Any]
    folder: Path | None = None


def load_text_model(folder: str | Path) -> CharCNNClassifier:
    """Load a saved char-CNN (hashes checked) as a fitted :class:`CharCNNClassifier`.

    Parameters
    ----------
    folder : str or Path
        A folder written by a training job.

    Returns
    -------
    CharCNNClassifier
        Ready for ``predict_proba`` and ``score_1_99``.

    Raises
    ------
    ModelIntegrityError
        When a file of the folder changed since it was saved.
    InputError
        When the folder is not a char-CNN model.
    """
    weights, config, features, _, _ = load_model(folder)
    return CharCNNClassifier.from_state(weights, config, features)


# -- the shared flow -------------------------------------------------------------------------
def _evaluate(
    name: str,
    est: Any,
    X_test: Any,
    texts_test: Sequence[str],
    y_test: np.ndarray,
    classes: Sequence[str],
    groups: Mapping[str, Sequence[Any]],
    multiclass: bool,
) -> dict[str, Any]:
    """Evaluate one fitted model (CNN on ``X_test``, baseline on ``texts_test``)."""
    data = X_test if name == "cnn" else texts_test
    start = time.perf_counter()
    p_raw = est.predict_bad_proba(data, calibrated=False)
    seconds = time.perf_counter() - start
    calibrator = est.calibrators_[est.head] if name == "cnn" else est.calibrator_
    p_cal = calibrator.predict_proba(p_raw)
    score = calibrator.score(p_raw)
    y_bad = (y_test != classes[0]).astype(np.int8)
    out: dict[str, Any] = {
        "binary": evaluate_binary(y_bad, p_cal, score),
        "per_group": {
            group_name: evaluate_binary(y_bad, p_cal, score, groups=g)["per_group"]
            for group_name, g in groups.items()
        },
        "ece_uncalibrated": expected_calibration_error(y_bad, p_raw),
        "predict_seconds": round(seconds, 4),
        "predict_rows_per_s": round(len(y_test) / seconds, 1) if seconds > 0 else None,
    }
    if multiclass:
        out["multiclass"] = evaluate_multiclass(y_test, est.predict(data), classes)
    return out


def _fit_and_evaluate(
    cnn: CharCNNClassifier,
    X: Any,
    texts: list[str],
    y: np.ndarray,
    split: tuple[np.ndarray, np.ndarray, np.ndarray],
    groups: Mapping[str, np.ndarray],
    seed: int,
) -> tuple[CharNgramBaseline, dict[str, Any]]:
    """Fit the CNN and the baseline on the split, evaluate both on its test part."""
    train, val, test = split
    config = cnn.config or CharCNNConfig()
    classes = config.classes(cnn.head)
    take = _take(X)
    multiclass = cnn.head == "attack" and not np.isin(y, [ANY_BAD]).any()

    start = time.perf_counter()
    cnn.fit(take(train), y[train], take(val), y[val])
    cnn_seconds = time.perf_counter() - start

    # The baseline cannot learn "some attack" rows as one class among the specific ones;
    # it learns the labels as they are, so with such rows it is a bad-vs-good model.
    start = time.perf_counter()
    texts_arr = np.asarray(texts, dtype=object)
    baseline = CharNgramBaseline(classes, encoder=cnn.text_encoder(), seed=seed)
    baseline.fit(texts_arr[train].tolist(), y[train], texts_arr[val].tolist(), y[val])
    base_seconds = time.perf_counter() - start

    test_groups = {k: np.asarray(g, dtype=object)[test] for k, g in groups.items()}
    args = (take(test), texts_arr[test].tolist(), y[test], classes, test_groups)
    metrics = {
        "task": f"{cnn.head} head",
        "classes": list(classes),
        "rows": {"train": len(train), "validation": len(val), "test": len(test)},
        "test_label_counts": _counts(y[test]),
        "cnn": {
            "fit_seconds": round(cnn_seconds, 2),
            "best_epoch": cnn.best_epoch_,
            "epochs_run": len(cnn.history_),
            **_evaluate("cnn", cnn, *args, multiclass=multiclass),
        },
        "baseline": {
            "model": "TF-IDF char_wb 1-4 grams + logistic regression (class_weight=balanced)",
            "fit_seconds": round(base_seconds, 2),
            **_evaluate("baseline", baseline, *args, multiclass=multiclass),
        },
    }
    metrics["comparison"] = _comparison(metrics["cnn"], metrics["baseline"])
    return baseline, metrics


def _take(X: Any):
    if isinstance(X, pd.DataFrame):
        return lambda rows: X.iloc[rows].reset_index(drop=True)
    if isinstance(X, np.ndarray):
        return lambda rows: X[rows]
    arr = np.asarray(X, dtype=object)
    return lambda rows: arr[rows].tolist()


def _counts(values: np.ndarray) -> dict[str, int]:
    names, counts = np.unique(np.asarray(values, dtype=str), return_counts=True)
    return {str(k): int(v) for k, v in zip(names, counts, strict=True)}


def _comparison(cnn: Mapping[str, Any], base: Mapping[str, Any]) -> dict[str, Any]:
    """CNN minus baseline for the headline numbers."""
    out = {}
    for key in ("roc_auc", "pr_auc", "f1", "precision", "recall", "fpr", "ece"):
        out[key] = {"cnn": cnn["binary"][key], "baseline": base["binary"][key]}
    if "multiclass" in cnn:
        for key in ("accuracy", "macro_f1", "macro_f1_attacks"):
            out[key] = {"cnn": cnn["multiclass"][key], "baseline": base["multiclass"][key]}
    return out


def _stratified_split(
    y: np.ndarray, test_fraction: float, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    idx = np.arange(len(y))
    rest, test = _split_once(idx, y, test_fraction, seed) if test_fraction else (idx, idx[:0])
    train, val = _split_once(rest, y[rest], val_fraction, seed + 1)
    return train, val, test


def _split_once(idx: np.ndarray, y: np.ndarray, fraction: float, seed: int):
    if not 0.0 < fraction < 1.0:
        raise InputError(f"split fractions must lie in (0, 1), got {fraction}")
    _, counts = np.unique(y, return_counts=True)
    stratify = y if counts.min() >= 2 else None
    try:
        a, b = train_test_split(idx, test_size=fraction, random_state=seed, stratify=stratify)
    except ValueError as exc:
        raise InputError(f"cannot split {len(idx)} rows with fraction {fraction}: {exc}") from None
    return np.sort(a), np.sort(b)


def _save(folder, cnn: CharCNNClassifier, metrics: dict, card: dict) -> Path:
    state = cnn.state()
    return save_model(
        folder,
        state["weights"],
        state["config"],
        state["features"],
        metrics,
        card,
        overwrite=True,
    )


# -- job 1: HttpParamsDataset payloads -------------------------------------------------------
def load_http_params(path: str | Path) -> pd.DataFrame:
    """Read an HttpParamsDataset CSV and check its labels.

    Parameters
    ----------
    path : str or Path
        ``payload_train.csv`` or ``payload_test.csv`` (columns ``payload``, ``length``,
        ``attack_type``, ``label``; payloads hold commas and quotes, read by a CSV parser).

    Returns
    -------
    pandas.DataFrame
        ``payload``, ``attack_type``, ``label`` and ``attack_class`` (the attack-head class).

    Raises
    ------
    InputError
        When the file is missing, lacks a column, or has unknown or inconsistent labels.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"payload CSV {path} does not exist")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not a readable CSV: {exc}") from None
    missing = {"payload", "attack_type", "label"} - set(frame.columns)
    if missing:
        raise InputError(f"{path} lacks the column(s) {sorted(missing)}")
    unknown = sorted(set(frame["attack_type"]) - set(HTTP_PARAMS_CLASSES))
    if unknown:
        raise InputError(f"{path}: unknown attack_type values {unknown}")
    bad_label = sorted(set(frame["label"]) - {"norm", "anom"})
    if bad_label:
        raise InputError(f"{path}: unknown label values {bad_label} (expected norm, anom)")
    inconsistent = (frame["attack_type"] == "norm") != (frame["label"] == "norm")
    if inconsistent.any():
        line = int(np.flatnonzero(inconsistent.to_numpy())[0]) + 2
        raise InputError(f"{path} line {line}: attack_type and label disagree")
    frame = frame[["payload", "attack_type", "label"]].copy()
    frame["attack_class"] = frame["attack_type"].map(HTTP_PARAMS_CLASSES)
    return frame


def train_payload_classifier(
    train_csv: str | Path,
    test_csv: str | Path,
    out_dir: str | Path | None = None,
    seed: int = 0,
    config: CharCNNConfig | None = None,
    val_fraction: float = 0.1,
    max_train_rows: int | None = None,
    max_test_rows: int | None = None,
    progress: bool = True,
    **cnn_params: Any,
) -> TextTrainingResult:
    """Train the attack head on HttpParamsDataset payloads; compare with the baseline.

    Parameters
    ----------
    train_csv, test_csv : str or Path
        The authors' train and test files. Validation is a stratified ``val_fraction``
        of the train file.
    out_dir : str or Path, optional
        Save the CNN there (weights, config, features, metrics, card).
    seed : int, default 0
        Controls the split, the CNN and the baseline.
    config : CharCNNConfig, optional
        Network hyperparameters; ``max_len`` sets the encoding length.
    val_fraction : float, default 0.1
    max_train_rows, max_test_rows : int, optional
        Use a stratified subset (for quick experiments and tests).
    progress : bool, default True
        Progress bar on stderr.
    **cnn_params
        More :class:`CharCNNClassifier` settings (``epochs``, ``batch_size``, ``lr``...).

    Returns
    -------
    TextTrainingResult
        The models, the metrics (also in ``out_dir/metrics.json``) and the folder.

    Raises
    ------
    InputError
        On unreadable files or unknown labels.
    """
    train = load_http_params(train_csv)
    test = load_http_params(test_csv)
    if max_train_rows and max_train_rows < len(train):
        train = _subset(train, max_train_rows, seed)
    if max_test_rows and max_test_rows < len(test):
        test = _subset(test, max_test_rows, seed)
    frame = pd.concat([train, test], ignore_index=True)
    y = frame["attack_class"].to_numpy(dtype=object)
    n_train = len(train)
    tr, va = _split_once(np.arange(n_train), y[:n_train], val_fraction, seed)
    te = np.arange(n_train, len(frame))

    config = config or CharCNNConfig()
    cnn = CharCNNClassifier(config, head="attack", seed=seed, progress=progress, **cnn_params)
    texts = frame["payload"].tolist()
    ids = cnn.encode(texts)
    baseline, metrics = _fit_and_evaluate(
        cnn, ids, texts, y, (tr, va, te), {"attack_class": y}, seed
    )
    metrics["data"] = {
        "source": "HttpParamsDataset",
        "train_file": str(train_csv),
        "test_file": str(test_csv),
        "validation": f"stratified {val_fraction:.0%} of the train file, seed {seed}",
    }
    folder = None
    if out_dir is not None:
        card = {
            "name": "charcnn-attack-payloads",
            "kind": "charcnn",
            "task": "attack class of HTTP parameter values; WAF-style attack score 1-99",
            "data_window": {"source": "HttpParamsDataset (no timestamps)", **metrics["rows"]},
            "seed": seed,
        }
        folder = _save(out_dir, cnn, metrics, card)
    return TextTrainingResult(cnn, baseline, metrics, folder)


def _subset(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    idx = np.arange(len(frame))
    _, keep = _split_once(idx, frame["attack_class"].to_numpy(), n / len(frame), seed)
    return frame.iloc[keep].reset_index(drop=True)


# -- job 2: http_requests rows ---------------------------------------------------------------
def _infer_head(values: set[str], label_col: str, label_map: Mapping[str, str] | None) -> str:
    if label_map is not None:
        targets = {str(v) for v in label_map.values()}
        config = CharCNNConfig()
        if targets <= {*config.attack_classes, ANY_BAD}:
            return "attack"
        if targets <= set(config.bot_classes):
            return "bot"
    elif label_col == "attack_class" or values <= set(ATTACK_LABELS):
        return "attack"
    elif values <= set(BOT_LABELS):
        return "bot"
    raise InputError(
        f"cannot tell which head {label_col!r} trains (values {sorted(values)[:10]}); "
        "pass head='attack' or head='bot' and a label_map"
    )


def train_request_classifier(
    frame: pd.DataFrame,
    label_col: str = "attack_class",
    head: str | None = None,
    label_map: Mapping[str, str] | None = None,
    out_dir: str | Path | None = None,
    seed: int = 0,
    config: CharCNNConfig | None = None,
    encoder: TextEncoder | None = None,
    split: str = "random",
    test_fraction: float = 0.2,
    val_fraction: float = 0.1,
    progress: bool = True,
    **cnn_params: Any,
) -> TextTrainingResult:
    """Train the CNN (and the baseline) on ``http_requests`` rows.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows with ``http_requests`` columns (at least ``ClientRequestMethod``,
        ``ClientRequestPath`` and ``label_col``); ``actor`` and ``EdgeStartTimestamp`` are
        used when present.
    label_col : str, default "attack_class"
        The ground-truth column: ``attack_class`` ('' = clean), ``label`` (``human`` /
        ``good_bot`` / ``bad_bot`` for the bot head, or CSIC's ``normal`` / ``anomalous``
        for the attack head).
    head : {"attack", "bot"}, optional
        Inferred from the label values when omitted.
    label_map : mapping, optional
        Raw value -> class name of the head (or ``"attack"`` for an attack of unknown
        type); defaults cover the values above.
    out_dir : str or Path, optional
        Save the CNN there.
    seed : int, default 0
    config : CharCNNConfig, optional
    encoder : TextEncoder, optional
        Encoding settings (length, headers).
    split : {"random", "time"}, default "random"
        ``random`` is stratified by label; ``time`` tests on the latest rows.
    test_fraction, val_fraction : float
        Shares held out for test and (of the rest) for validation.
    progress : bool, default True
    **cnn_params
        More :class:`CharCNNClassifier` settings.

    Returns
    -------
    TextTrainingResult
        The models, metrics and folder.

    Raises
    ------
    InputError
        On missing columns, unknown label values or too few rows of a kind.
    """
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"frame must be a pandas DataFrame, not {type(frame).__name__}")
    if label_col not in frame.columns:
        raise InputError(f"the rows have no {label_col!r} column")
    raw = frame[label_col].astype(object).where(frame[label_col].notna(), None)
    values = {str(v) for v in raw if v is not None}
    head = head or _infer_head(values, label_col, label_map)
    mapping = (
        dict(label_map)
        if label_map is not None
        else dict(ATTACK_LABELS if head == "attack" else BOT_LABELS)
    )
    unknown = sorted(values - set(mapping))
    if unknown:
        raise InputError(f"{label_col} values {unknown} are not in the label map {mapping}")
    y = np.array([mapping[str(v)] if v is not None else None for v in raw], dtype=object)
    if any(v is None for v in y):
        raise InputError(f"{label_col} has missing values; drop unlabelled rows first")

    frame = frame.reset_index(drop=True)
    if split == "random":
        parts = _stratified_split(y, test_fraction, val_fraction, seed)
    elif split == "time":
        if "EdgeStartTimestamp" not in frame.columns:
            raise InputError("split='time' needs an EdgeStartTimestamp column")
        order = np.argsort(frame["EdgeStartTimestamp"].to_numpy(), kind="stable")
        n_test = int(round(len(order) * test_fraction))
        rest, test = order[: len(order) - n_test], np.sort(order[len(order) - n_test :])
        train, val = _split_once(rest, y[rest], val_fraction, seed)
        parts = (train, val, test)
    else:
        raise InputError(f"split must be 'random' or 'time', not {split!r}")

    config = config or CharCNNConfig()
    cnn = CharCNNClassifier(
        config, head=head, encoder=encoder, seed=seed, progress=progress, **cnn_params
    )
    enc = cnn.text_encoder()
    texts = request_texts(frame, enc.headers)
    ids = enc.encode_requests(frame)
    groups = {"label": frame[label_col].astype(str).to_numpy(dtype=object)}
    if "actor" in frame.columns and label_col != "actor":
        groups["actor"] = frame["actor"].astype(str).to_numpy(dtype=object)
    baseline, metrics = _fit_and_evaluate(cnn, ids, texts, y, parts, groups, seed)
    window = {}
    if "EdgeStartTimestamp" in frame.columns and len(frame):
        ts = pd.to_datetime(frame["EdgeStartTimestamp"], utc=True)
        window = {"start": ts.min().isoformat(), "end": ts.max().isoformat()}
    metrics["data"] = {
        "source": "http_requests",
        "label_column": label_col,
        "split": split,
        "sources": sorted({str(s) for s in frame["Source"]}) if "Source" in frame else [],
        **window,
    }
    folder = None
    if out_dir is not None:
        card = {
            "name": f"charcnn-{head}-requests",
            "kind": "charcnn",
            "task": f"{head} head on request text; 1-99 score (1 = bad)",
            "data_window": {**window, **metrics["rows"], "label_column": label_col},
            "seed": seed,
        }
        folder = _save(out_dir, cnn, metrics, card)
    return TextTrainingResult(cnn, baseline, metrics, folder)
