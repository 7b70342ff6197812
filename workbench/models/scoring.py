"""Batch scoring: stream a window from the store, score it, write ``scores`` rows, bounded memory.

:func:`score_requests` takes any saved model folder (hashes checked on load):

* a char-CNN scores each request of ``http_requests`` in the window. Rows: ``RayID`` of the
  request, ``EntityType = 'ip'`` and ``Entity`` its ``ClientIP`` (so request scores roll
  up per IP), ``EventTime`` its ``EdgeStartTimestamp``, ``ScoreKind`` the head (``bot``:
  bot score, ``attack``: WAF attack score);
* a tabular or anomaly model scores each entity active in the window, its features
  computed in ClickHouse and streamed (:func:`workbench.features.stream_entity_features`).
  Rows: ``RayID = ''``, ``EntityType`` the entity kind (``ip`` ...), ``Entity`` its key
  (several key columns joined by a tab), ``EventTime`` the window start, ``ScoreKind``
  ``bot`` or ``anomaly``.

Every row carries ``Model`` (the card's name) and ``Version`` (the first 12 hex digits of the
model's content hash), the calibrated ``Probability`` of the bad class and the 1–99
``Score`` (1 = bad). Re-scoring a window with the same model version first deletes that
version's rows in the window, so runs are repeatable. Memory holds one batch at a time.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from tqdm.auto import tqdm

from workbench.errors import InputError
from workbench.features import resolve_entity, stream_entity_features
from workbench.features.entity import window_parameters
from workbench.models.artifacts import ModelArtifact, load_model, model_version
from workbench.store.base import Store
from workbench.store.identifiers import check_identifier

#: Requests (or entities) per batch unless asked otherwise.
DEFAULT_BATCH_ROWS = 50_000
#: ``http_requests`` columns the CNN reads.
REQUEST_COLUMNS = (
    "RayID",
    "EdgeStartTimestamp",
    "ClientIP",
    "ClientRequestMethod",
    "ClientRequestPath",
    "ClientRequestQuery",
    "RequestBody",
    "ClientRequestUserAgent",
    "RequestHeaders",
)
SCORES_SCHEMA = pa.schema(
    [
        ("RayID", pa.string()),
        ("EntityType", pa.string()),
        ("Entity", pa.string()),
        ("EventTime", pa.timestamp("ms", tz="UTC")),
        ("Model", pa.string()),
        ("Version", pa.string()),
        ("ScoreKind", pa.string()),
        ("Probability", pa.float64()),
        ("Score", pa.uint8()),
    ]
)
_WINDOW = "{time} >= {{start:DateTime64(3, 'UTC')}} AND {time} < {{end:DateTime64(3, 'UTC')}}"


@dataclass
class ScoringResult:
    """What a scoring run did.

    Attributes
    ----------
    model, version : str
        As written in ``scores``.
    kind : str
        ``charcnn``, ``tabular`` or ``anomaly``.
    score_kind : str
        ``bot``, ``attack`` or ``anomaly``.
    rows : int
        Rows written (requests or entities).
    batches : int
        Batches streamed.
    max_batch_rows : int
        Largest batch held in memory.
    replaced : int
        Rows of this model version in the window deleted first.
    seconds : float
        Wall time.
    """

    model: str
    version: str
    kind: str
    score_kind: str
    rows: int = 0
    batches: int = 0
    max_batch_rows: int = 0
    replaced: int = 0
    seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        """Rows scored per second."""
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready values."""
        return {**asdict(self), "rows_per_second": round(self.rows_per_second, 1)}


class _Scorer:
    """A loaded model: the batch -> (probability, score) function and its row metadata."""

    def __init__(self, folder: Path, head: str | None) -> None:
        artifact = load_model(folder)
        self.artifact: ModelArtifact = artifact
        self.kind = str(artifact.config.get("kind"))
        self.model_name = str(artifact.card.get("name") or folder.name)
        self.version = model_version(artifact.card)
        if self.kind == "charcnn":
            from workbench.models.charcnn_classifier import CharCNNClassifier

            self.est = CharCNNClassifier.from_state(
                artifact.weights, artifact.config, artifact.features
            )
            self.head = head or self.est.head
            if self.head not in self.est.heads_:
                raise InputError(f"the model has no trained {self.head!r} head")
            self.score_kind = self.head
        elif self.kind in ("tabular", "anomaly"):
            from workbench.models.train import load_entity_model

            if head is not None:
                raise InputError("head applies to char-CNN models only")
            self.est, _ = load_entity_model(folder)
            self.entity = resolve_entity(artifact.features["entity"])
            self.feature_names = list(artifact.features["features"])
            self.score_kind = "bot" if self.kind == "tabular" else "anomaly"
        else:
            raise InputError(f"{folder} holds a {self.kind!r} model, which cannot score requests")

    def probabilities(self, data: Any) -> tuple[np.ndarray, np.ndarray]:
        """Return calibrated probabilities of the bad class and 1–99 scores."""
        if self.kind == "charcnn":
            p_raw = self.est.predict_bad_proba(data, self.head, calibrated=False)
            calibrator = self.est.calibrators_[self.head]
            return calibrator.predict_proba(p_raw), calibrator.score(p_raw)
        if self.kind == "tabular":
            p_raw = self.est.predict_bad_proba(data, calibrated=False)
            return self.est.calibrator_.predict_proba(p_raw), self.est.calibrator_.score(p_raw)
        return self.est.predict_bad_proba(data), self.est.score_1_99(data)

    def rows(
        self, ray_ids, entity_type, entities, times, p: np.ndarray, score: np.ndarray
    ) -> pa.Table:
        """Build ``scores`` rows for one batch."""
        n = len(p)
        return pa.table(
            {
                "RayID": pa.array(ray_ids, pa.string()),
                "EntityType": pa.array([entity_type] * n, pa.string()),
                "Entity": pa.array(entities, pa.string()),
                "EventTime": times,
                "Model": pa.array([self.model_name] * n, pa.string()),
                "Version": pa.array([self.version] * n, pa.string()),
                "ScoreKind": pa.array([self.score_kind] * n, pa.string()),
                "Probability": pa.array(np.asarray(p, dtype=np.float64), pa.float64()),
                "Score": pa.array(np.asarray(score, dtype=np.uint8), pa.uint8()),
            },
            schema=SCORES_SCHEMA,
        )


def _delete_previous(store: Store, scorer: _Scorer, window: dict[str, Any]) -> int:
    where = "Model = {model:String} AND Version = {version:String} AND " + _WINDOW.format(
        time="EventTime"
    )
    params = {**window, "model": scorer.model_name, "version": scorer.version}
    sql = "SELECT count() AS n FROM scores WHERE " + where  # noqa: S608 - fixed text
    n = int(store.query_df(sql, params)["n"].iloc[0])
    if n:
        store.mutate("scores", "DELETE WHERE " + where, params, settings={"mutations_sync": 2})
    return n


def score_requests(
    store: Store,
    model_path: str | Path,
    start: Any,
    end: Any,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    progress: bool = True,
    replace: bool = True,
    head: str | None = None,
) -> ScoringResult:
    """Score a window with a saved model and write the ``scores`` rows, batch by batch.

    Parameters
    ----------
    store : Store
        Where ``http_requests`` is read and ``scores`` written.
    model_path : str or Path
        A model folder (char-CNN, tabular or anomaly); its hashes are checked first.
    start, end : datetime or ISO-8601 str
        Window, UTC: ``start`` inclusive, ``end`` exclusive.
    batch_rows : int, default 50000
        Requests (or entities) per batch: the memory bound.
    progress : bool, default True
        Progress bar on stderr.
    replace : bool, default True
        Delete this model version's earlier rows in the window first.
    head : {"bot", "attack"}, optional
        Char-CNN head to score (default: the model's own head).

    Returns
    -------
    ScoringResult
        Rows written, batches, timing.

    Raises
    ------
    ModelIntegrityError
        When a model file changed since it was saved.
    InputError
        On a bad window, batch size or model folder.
    """
    if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
        raise InputError(f"batch_rows must be a positive integer, got {batch_rows!r}")
    window = window_parameters(start, end)
    scorer = _Scorer(Path(model_path), head)
    result = ScoringResult(scorer.model_name, scorer.version, scorer.kind, scorer.score_kind)
    t0 = time.perf_counter()
    if replace:
        result.replaced = _delete_previous(store, scorer, window)
    if scorer.kind == "charcnn":
        _score_request_rows(store, scorer, window, batch_rows, progress, result)
    else:
        _score_entities(store, scorer, window, batch_rows, progress, result)
    result.seconds = round(time.perf_counter() - t0, 3)
    return result


def _score_request_rows(store, scorer, window, batch_rows, progress, result) -> None:
    where = _WINDOW.format(time="EdgeStartTimestamp")
    count_sql = f"SELECT count() AS n FROM http_requests WHERE {where}"  # noqa: S608
    total = int(store.query_df(count_sql, window)["n"].iloc[0])
    cols = ", ".join(check_identifier(c) for c in REQUEST_COLUMNS)
    sql = f"SELECT {cols} FROM http_requests WHERE {where}"  # noqa: S608 - checked names
    bar = tqdm(total=total, desc=f"score {scorer.model_name}", unit="req", disable=not progress)
    try:
        with store.query_arrow_stream(sql, window, batch_rows=batch_rows) as batches:
            for block in batches:
                # the engine may send blocks larger than asked: score at most batch_rows at once
                for offset in range(0, block.num_rows, batch_rows):
                    _score_request_batch(
                        store, scorer, block.slice(offset, batch_rows), result, bar
                    )
    finally:
        bar.close()


def _score_request_batch(store, scorer, batch, result, bar) -> None:
    if not batch.num_rows:
        return
    p, score = scorer.probabilities(batch)
    times = batch.column("EdgeStartTimestamp").cast(pa.timestamp("ms", tz="UTC"))
    rows = scorer.rows(batch.column("RayID"), "ip", batch.column("ClientIP"), times, p, score)
    store.insert_arrow("scores", rows)
    _count(result, batch.num_rows, bar)


def _score_entities(store, scorer, window, batch_rows, progress, result) -> None:
    kind = scorer.entity
    keys = list(kind.keys)
    event_time = pd.Timestamp(window["start"])
    bar = tqdm(desc=f"score {scorer.model_name}", unit="entity", disable=not progress)
    try:
        with stream_entity_features(
            store,
            kind,
            window["start"],
            window["end"],
            scorer.feature_names,
            batch_rows=batch_rows,
        ) as batches:
            for block in batches:
                for offset in range(0, block.num_rows, batch_rows):
                    part = block.slice(offset, batch_rows)
                    _score_entity_batch(store, scorer, part, keys, event_time, result, bar)
    finally:
        bar.close()


def _score_entity_batch(store, scorer, batch, keys, event_time, result, bar) -> None:
    if not batch.num_rows:
        return
    frame = batch.to_pandas()
    p, score = scorer.probabilities(frame[scorer.feature_names])
    if len(keys) == 1:
        entities = frame[keys[0]].astype(str).tolist()
    else:
        entities = frame[keys].astype(str).agg("\t".join, axis=1).tolist()
    times = pa.array([event_time] * len(frame), pa.timestamp("ms", tz="UTC"))
    rows = scorer.rows([""] * len(frame), scorer.entity.name, entities, times, p, score)
    store.insert_arrow("scores", rows)
    _count(result, batch.num_rows, bar)


def _count(result: ScoringResult, n: int, bar: tqdm) -> None:
    result.rows += n
    result.batches += 1
    result.max_batch_rows = max(result.max_batch_rows, n)
    bar.update(n)
