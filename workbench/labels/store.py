"""Write and read analyst labels with provenance (who, when, how) in the ``labels`` table.

Verdict words are the ones the detection and monitoring packages read:
:data:`ANOMALOUS_VERDICTS` make an entity positive (bad), :data:`NORMAL_VERDICTS` negative.
Any other word is refused, so a typo never becomes a silent label.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import InputError
from workbench.features import resolve_entity
from workbench.store.base import Store

#: Verdicts that mark an entity bad (positive class).
ANOMALOUS_VERDICTS = (
    "attack", "malicious", "anomalous", "compromised", "bad", "true_positive", "bad_bot",
)  # fmt: skip
#: Verdicts that mark an entity normal (negative class).
NORMAL_VERDICTS = ("normal", "benign", "good", "false_positive", "human")
VERDICTS = ANOMALOUS_VERDICTS + NORMAL_VERDICTS
#: Columns of the ``labels`` table, in DDL order.
LABEL_TABLE_COLUMNS = (
    "LabelID", "LabelTime", "EntityType", "Entity", "RayID", "Verdict", "Analyst", "Source",
    "Model", "Note",
)  # fmt: skip


_SELECT = (
    "SELECT LabelID, LabelTime, EntityType, Entity, RayID, Verdict, Analyst, Source, Model, "
    "Note FROM labels WHERE ({etype:String} = '' OR EntityType = {etype:String}) "
    "AND ({analyst:String} = '' OR Analyst = {analyst:String}) "
)
_ALL_SQL = _SELECT + "ORDER BY LabelTime DESC, LabelID DESC"
_LATEST_SQL = _SELECT + "ORDER BY LabelTime DESC, LabelID DESC LIMIT 1 BY EntityType, Entity"


def normalize_verdict(word: Any) -> str:
    """Return a verdict word in its canonical form (trimmed, lower case).

    Parameters
    ----------
    word : str
        What the analyst wrote (``"Bad_Bot "``, ``"benign"`` ...).

    Returns
    -------
    str
        One of :data:`VERDICTS`.

    Raises
    ------
    InputError
        When the word is not a known verdict.
    """
    text = str(word).strip().lower() if word is not None else ""
    if text not in VERDICTS:
        raise InputError(f"unknown verdict {word!r}; use one of {', '.join(VERDICTS)}")
    return text


def verdict_target(verdicts: Any) -> np.ndarray:
    """Map verdict words to targets: 1 for anomalous, 0 for normal.

    Parameters
    ----------
    verdicts : array-like of str
        Verdict words (normalized or not).

    Returns
    -------
    numpy.ndarray
        ``int8`` targets.

    Raises
    ------
    InputError
        When a word is not a known verdict.
    """
    words = [normalize_verdict(v) for v in pd.Series(verdicts, dtype=object)]
    return np.array([1 if w in ANOMALOUS_VERDICTS else 0 for w in words], dtype=np.int8)


def entity_type_name(entity: str) -> str:
    """Return the canonical entity kind name stored in ``EntityType`` (``ip`` ...)."""
    return resolve_entity(entity).name


def write_labels(
    store: Store,
    entities: Sequence[str],
    verdicts: Sequence[str],
    analyst: str | Sequence[str],
    source: str,
    entity_type: str = "ip",
    times: Any = None,
    notes: str | Sequence[str] = "",
    model: str = "",
    ray_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Insert labels into the ``labels`` table, one row per entity, with provenance.

    Parameters
    ----------
    store : Store
        Where the ``labels`` table is.
    entities : sequence of str
        Entity values (IP addresses for ``entity_type="ip"``).
    verdicts : sequence of str
        Verdict words, one per entity (see :func:`normalize_verdict`).
    analyst : str or sequence of str
        Who gave the verdict (one name, or one per entity); never empty.
    source : str
        How the label was made (``widget``, ``csv``, ``simulated`` ...).
    entity_type : str, default "ip"
        Entity kind or alias (stored as its canonical name).
    times : datetime-like or sequence, optional
        When each verdict was given (UTC); now when omitted.
    notes : str or sequence of str, default ""
        Free text.
    model : str, default ""
        The model whose queue proposed the entity, if any.
    ray_ids : sequence of str, optional
        A request the verdict is about, when it is about one request.

    Returns
    -------
    pandas.DataFrame
        The rows inserted, in ``labels`` column order.

    Raises
    ------
    InputError
        On an unknown verdict, an empty entity or analyst, or mismatched lengths.
    """
    entities = [str(e) for e in entities]
    n = len(entities)
    if n == 0:
        return pd.DataFrame(columns=list(LABEL_TABLE_COLUMNS))
    if len(verdicts) != n:
        raise InputError(f"{len(verdicts)} verdicts for {n} entities")
    if any(not e.strip() for e in entities):
        raise InputError("an entity is empty; every label needs the entity it is about")
    analysts = [analyst] * n if isinstance(analyst, str) else [str(a) for a in analyst]
    if len(analysts) != n or any(not a.strip() for a in analysts):
        raise InputError("every label needs a non-empty analyst name")
    if not str(source).strip():
        raise InputError("every label needs a source (widget, csv ...)")
    note_list = [notes] * n if isinstance(notes, str) else [str(x) for x in notes]
    if len(note_list) != n:
        raise InputError(f"{len(note_list)} notes for {n} entities")
    if times is None:
        stamps = pd.Series([pd.Timestamp.now(tz="UTC")] * n)
    else:
        if isinstance(times, str) or not hasattr(times, "__len__"):
            times = [times] * n
        try:
            stamps = pd.Series(pd.to_datetime(list(times), utc=True))
        except (ValueError, TypeError) as exc:
            raise InputError(f"label times could not be read: {exc}") from exc
        if len(stamps) != n or stamps.isna().any():
            raise InputError("every label needs a valid time")
    rays = [""] * n if ray_ids is None else [str(r) for r in ray_ids]
    frame = pd.DataFrame(
        {
            "LabelID": [str(uuid.uuid4()) for _ in range(n)],
            "LabelTime": stamps.dt.tz_convert("UTC").astype("datetime64[ms, UTC]").to_numpy(),
            "EntityType": entity_type_name(entity_type),
            "Entity": entities,
            "RayID": rays,
            "Verdict": [normalize_verdict(v) for v in verdicts],
            "Analyst": [a.strip() for a in analysts],
            "Source": str(source).strip(),
            "Model": str(model),
            "Note": note_list,
        }
    )
    frame["LabelTime"] = pd.to_datetime(frame["LabelTime"], utc=True)
    store.insert_df("labels", frame)
    return frame


def read_labels(
    store: Store,
    entity_type: str | None = "ip",
    latest: bool = True,
    analyst: str | None = None,
) -> pd.DataFrame:
    """Read labels, newest first, optionally keeping only each entity's latest verdict.

    Parameters
    ----------
    store : Store
        Where the ``labels`` table is.
    entity_type : str or None, default "ip"
        Entity kind to read; every kind when None.
    latest : bool, default True
        Keep one row per entity: its most recent label.
    analyst : str, optional
        Only this analyst's labels.

    Returns
    -------
    pandas.DataFrame
        The ``labels`` columns plus ``y`` (1 anomalous, 0 normal, -1 unknown word).
    """
    params = {
        "etype": "" if entity_type is None else entity_type_name(entity_type),
        "analyst": "" if analyst is None else str(analyst),
    }
    sql = _LATEST_SQL if latest else _ALL_SQL
    frame = store.query_df(sql, parameters=params)
    if latest:
        frame = frame.sort_values(["LabelTime", "LabelID"], ascending=False, kind="stable")
        frame = frame.reset_index(drop=True)
    verdict = frame["Verdict"].astype(str)
    frame["y"] = np.where(
        verdict.isin(ANOMALOUS_VERDICTS), 1, np.where(verdict.isin(NORMAL_VERDICTS), 0, -1)
    ).astype(np.int8)
    return frame
