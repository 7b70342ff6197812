"""Alert rows: one per detection, with a score, a severity, reasons for a person and features.

Every detector returns rows in the layout of the ``alerts`` table (:data:`ALERT_COLUMNS`).
``AlertID`` is a hash of what was detected (detector, entity, first event time, detail), so
re-running a detector over the same data gives the same ids and replaces, never duplicates.
Ground truth (``label``, ``campaign``) is copied from the events behind an alert when they
carry it, for evaluation only: no detector reads it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from workbench.errors import InputError
from workbench.store.base import Store

#: Severity levels, lowest first.
SEVERITIES = ("low", "medium", "high", "critical")
#: Lowest score of each severity (scores run from 0 to 100).
SEVERITY_FLOORS = {"low": 0.0, "medium": 40.0, "high": 65.0, "critical": 85.0}
#: Entity kinds an alert can be about.
ENTITY_TYPES = ("user", "ip")

_TS = pa.timestamp("ms", tz="UTC")
ALERT_SCHEMA = pa.schema(
    [
        ("AlertID", pa.string()), ("AlertTime", _TS), ("LastSeen", _TS),
        ("Detector", pa.string()), ("EntityType", pa.string()), ("Entity", pa.string()),
        ("Score", pa.float64()), ("Severity", pa.string()), ("Reasons", pa.list_(pa.string())),
        ("Features", pa.map_(pa.string(), pa.float64())), ("Users", pa.list_(pa.string())),
        ("SourceIPs", pa.list_(pa.string())), ("Devices", pa.list_(pa.string())),
        ("IncidentID", pa.string()), ("Suppressed", pa.uint8()), ("SuppressedBy", pa.string()),
        ("label", pa.string()), ("campaign", pa.string()),
    ]
)  # fmt: skip
#: Columns of an alert frame, in table order.
ALERT_COLUMNS = tuple(ALERT_SCHEMA.names)
#: Most users, addresses or devices listed on one alert (a spraying run can touch thousands).
MAX_LISTED = 200


def severity_for(score: float) -> str:
    """Return the severity of a 0-100 score.

    Parameters
    ----------
    score : float
        Alert or incident score.

    Returns
    -------
    str
        ``low`` (below 40), ``medium`` (below 65), ``high`` (below 85) or ``critical``.
    """
    level = "low"
    for name in SEVERITIES:
        if score >= SEVERITY_FLOORS[name]:
            level = name
    return level


def check_severity(name: str) -> str:
    """Return ``name`` if it is a severity level, else raise :class:`InputError`."""
    if name not in SEVERITIES:
        raise InputError(f"unknown severity {name!r}; choose one of: {', '.join(SEVERITIES)}")
    return name


def severity_rank(values: Any) -> np.ndarray:
    """Return 0 (low) to 3 (critical) for each severity name (-1 for anything else)."""
    order = {name: i for i, name in enumerate(SEVERITIES)}
    return np.array([order.get(v, -1) for v in values], dtype=np.int64)


def alert_id(detector: str, entity_type: str, entity: str, time: pd.Timestamp, detail: str) -> str:
    """Return the deterministic id of a detection (16 hex digits).

    Parameters
    ----------
    detector, entity_type, entity : str
        What fired, about what.
    time : pandas.Timestamp
        First event of the detection.
    detail : str
        What distinguishes two detections of one detector on one entity at one time
        (the new country, the address pair ...).

    Returns
    -------
    str
        The id.
    """
    ms = int(pd.Timestamp(time).value // 1_000_000)
    key = "\x1f".join((detector, entity_type, entity, str(ms), detail)).encode("utf-8", "replace")
    return hashlib.sha256(key).hexdigest()[:16]


def ground_truth(row: Mapping[str, Any]) -> tuple[str, str]:
    """Return ``(label, campaign)`` for an alert from the truth columns of its aggregate.

    Parameters
    ----------
    row : mapping
        With ``attack_events``, ``labelled_events`` and ``campaigns`` (most frequent first),
        as produced by :data:`workbench.detect.sql.TRUTH`.

    Returns
    -------
    tuple of str
        ``("attack", campaign)`` when any event was an attack, ``("normal", "")`` when events
        were labelled and none was, ``("", "")`` when the events carry no ground truth.
    """
    found = row.get("campaigns")
    campaigns = [] if found is None else [str(c) for c in found]
    if int(row.get("attack_events", 0) or 0) > 0:
        return "attack", str(campaigns[0]) if campaigns else ""
    if int(row.get("labelled_events", 0) or 0) > 0:
        return "normal", ""
    return "", ""


def make_alert(
    detector: str,
    entity_type: str,
    entity: str,
    time: pd.Timestamp,
    score: float,
    reasons: Sequence[str],
    features: Mapping[str, float],
    *,
    last_seen: pd.Timestamp | None = None,
    users: Iterable[str] = (),
    source_ips: Iterable[str] = (),
    devices: Iterable[str] = (),
    truth: tuple[str, str] = ("", ""),
    detail: str = "",
) -> dict[str, Any]:
    """Return one alert row (a dict of :data:`ALERT_COLUMNS`).

    Parameters
    ----------
    detector : str
        Detector name.
    entity_type : str
        ``user`` or ``ip``.
    entity : str
        The user name or address the alert is about.
    time : pandas.Timestamp
        When the detection happened (``AlertTime``): its first event inside the detection
        window (for a pair of sign-ins, the second). Always inside the window that was run,
        so that re-running the window replaces the alert.
    score : float
        0 to 100; the severity follows from it.
    reasons : sequence of str
        Sentences for a person, most important first.
    features : mapping of str to float
        The numbers that drove the detection.
    last_seen : pandas.Timestamp, optional
        Last event of the detection (default ``time``).
    users, source_ips, devices : iterable of str
        Entities involved, for grouping alerts into incidents (at most :data:`MAX_LISTED`
        each, sorted).
    truth : tuple of str
        ``(label, campaign)`` from :func:`ground_truth`.
    detail : str
        Distinguishes detections of one detector on one entity at one time (see
        :func:`alert_id`).

    Returns
    -------
    dict
        The row.

    Raises
    ------
    InputError
        When the entity type is unknown or the score is not in 0-100.
    """
    if entity_type not in ENTITY_TYPES:
        raise InputError(f"unknown entity type {entity_type!r}")
    score = float(score)
    if not 0.0 <= score <= 100.0:
        raise InputError(f"alert score must be in 0-100, got {score}")
    time = pd.Timestamp(time)
    return {
        "AlertID": alert_id(detector, entity_type, entity, time, detail),
        "AlertTime": time,
        "LastSeen": pd.Timestamp(last_seen) if last_seen is not None else time,
        "Detector": detector,
        "EntityType": entity_type,
        "Entity": str(entity),
        "Score": round(score, 2),
        "Severity": severity_for(score),
        "Reasons": [str(r) for r in reasons],
        "Features": {str(k): float(v) for k, v in features.items() if np.isfinite(float(v))},
        "Users": _listed(users),
        "SourceIPs": _listed(source_ips),
        "Devices": _listed(devices),
        "IncidentID": "",
        "Suppressed": 0,
        "SuppressedBy": "",
        "label": truth[0],
        "campaign": truth[1],
    }


def _listed(values: Iterable[Any]) -> list[str]:
    return sorted({str(v) for v in values if v is not None and str(v) != ""})[:MAX_LISTED]


def user_alert(
    detector: str,
    row: Mapping[str, Any],
    time: pd.Timestamp,
    score: float,
    reasons: Sequence[str],
    features: Mapping[str, float],
    **involved: Any,
) -> dict[str, Any]:
    """Return the alert about the account of one detector query row.

    The entity and the only user involved are the row's ``User``; the ground truth comes
    from its truth columns (:func:`ground_truth`).

    Parameters
    ----------
    detector : str
        Detector name.
    row : mapping
        The query row: ``User`` and the columns of :data:`workbench.detect.sql.TRUTH`.
    time : pandas.Timestamp
        When the detection happened (see :func:`make_alert`).
    score : float
        0 to 100.
    reasons : sequence of str
        Sentences for a person, most important first.
    features : mapping of str to float
        The numbers that drove the detection.
    **involved
        ``last_seen``, ``source_ips``, ``devices`` and ``detail``, as for :func:`make_alert`.

    Returns
    -------
    dict
        The row (:func:`make_alert`).
    """
    user = row["User"]
    return make_alert(
        detector, "user", user, time, score, reasons, features,
        users=[user], truth=ground_truth(row), **involved,
    )  # fmt: skip


def alert_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Return alert rows as a frame with :data:`ALERT_COLUMNS` and the table's dtypes.

    Parameters
    ----------
    rows : iterable of mapping
        Rows from :func:`make_alert` (or read back from the table).

    Returns
    -------
    pandas.DataFrame
        One row per alert (possibly none), ordered by ``AlertTime`` then ``AlertID``.
    """
    table = to_arrow(pd.DataFrame(list(rows), columns=list(ALERT_COLUMNS)))
    return from_arrow(table)


def to_arrow(frame: pd.DataFrame) -> pa.Table:
    """Convert an alert frame to an Arrow table with the ``alerts`` layout.

    Parameters
    ----------
    frame : pandas.DataFrame
        Alert rows with :data:`ALERT_COLUMNS`.

    Returns
    -------
    pyarrow.Table
        Typed as :data:`ALERT_SCHEMA`.

    Raises
    ------
    InputError
        When a column is missing.
    """
    missing = [c for c in ALERT_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"alert rows lack column(s) {missing}")
    arrays = []
    for field in ALERT_SCHEMA:
        values = frame[field.name]
        if field.name == "Features":
            items = [list(_as_dict(v).items()) for v in values]
            arrays.append(pa.array(items, type=field.type))
        elif pa.types.is_list(field.type):
            arrays.append(pa.array([[str(x) for x in _as_list(v)] for v in values], field.type))
        elif pa.types.is_timestamp(field.type):
            stamps = pd.to_datetime(values, utc=True).astype("datetime64[ms, UTC]")
            arrays.append(pa.array(stamps, type=field.type))
        else:
            arrays.append(pa.array(values.tolist(), type=field.type))
    return pa.Table.from_arrays(arrays, schema=ALERT_SCHEMA)


def from_arrow(table: pa.Table) -> pd.DataFrame:
    """Convert Arrow alert rows (as built or as read from the store) to an alert frame.

    ``Features`` becomes a dict and the array columns lists, whatever the backend returned.

    Parameters
    ----------
    table : pyarrow.Table
        Alert rows.

    Returns
    -------
    pandas.DataFrame
        Ordered by ``AlertTime`` then ``AlertID``.
    """
    frame = table.to_pandas()
    frame["Features"] = [_as_dict(v) for v in frame["Features"]]
    for name in ("Reasons", "Users", "SourceIPs", "Devices"):
        frame[name] = [[str(x) for x in _as_list(v)] for v in frame[name]]
    for name in ("AlertTime", "LastSeen"):
        frame[name] = pd.to_datetime(frame[name], utc=True).astype("datetime64[ms, UTC]")
    frame = frame.sort_values(["AlertTime", "AlertID"], kind="stable").reset_index(drop=True)
    return frame[list(ALERT_COLUMNS)]


def _as_dict(value: Any) -> dict[str, float]:
    if isinstance(value, Mapping):
        return {str(k): float(v) for k, v in value.items()}
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return {}
    return {str(k): float(v) for k, v in value}


def _as_list(value: Any) -> list:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    return list(value)


def ensure_tables(store: Store) -> None:
    """Bring an older warehouse up to the detection layout, if it is not there yet.

    When ``alerts`` lacks a column of :data:`ALERT_COLUMNS` or the ``incidents`` table does not
    exist, the schema is applied (:func:`workbench.store.apply_schema`: it creates missing
    tables and adds missing columns, ``ON CLUSTER`` when ``WB_CLICKHOUSE_CLUSTER`` is set).

    Parameters
    ----------
    store : Store
        The store to check.
    """
    from workbench.config import settings
    from workbench.store.schema import apply_schema

    found = store.query_df(
        "SELECT table, name FROM system.columns WHERE database = currentDatabase() "
        "AND table IN ('alerts', 'incidents')"
    )
    have = set(found.loc[found["table"] == "alerts", "name"])
    if not set(ALERT_COLUMNS) <= have or not (found["table"] == "incidents").any():
        apply_schema(store, settings().clickhouse_cluster)


def write_alerts(
    store: Store,
    alerts: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
    detectors: Sequence[str],
) -> int:
    """Replace the alerts of ``detectors`` in ``[start, end)`` with ``alerts``.

    Parameters
    ----------
    store : Store
        Where the ``alerts`` table lives.
    alerts : pandas.DataFrame
        New alert rows (:func:`alert_frame`).
    start, end : pandas.Timestamp
        The detection window that was run; earlier alerts of these detectors in it are
        deleted first, so a re-run replaces rather than duplicates.
    detectors : sequence of str
        The detectors that were run.

    Returns
    -------
    int
        Rows inserted.
    """
    ensure_tables(store)
    store.mutate(
        "alerts",
        "DELETE WHERE Detector IN {detectors:Array(String)} "
        "AND AlertTime >= {start:DateTime64(3)} AND AlertTime < {end:DateTime64(3)}",
        parameters={"detectors": list(detectors), "start": start, "end": end},
        settings={"mutations_sync": 2},
    )
    return store.insert_arrow("alerts", to_arrow(alerts)) if len(alerts) else 0


def read_alerts(
    store: Store,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    detectors: Sequence[str] | None = None,
    min_severity: str = "low",
    include_suppressed: bool = True,
    limit: int | None = None,
) -> pd.DataFrame:
    """Read alerts back from the store.

    Parameters
    ----------
    store : Store
        Where the ``alerts`` table lives.
    start, end : pandas.Timestamp, optional
        ``AlertTime`` bounds ``[start, end)``; open when not given.
    detectors : sequence of str, optional
        Only these detectors.
    min_severity : str, default "low"
        Lowest severity to return.
    include_suppressed : bool, default True
        Also return suppressed alerts (allowlisted or repeats).
    limit : int, optional
        At most this many, highest score first (all when not given).

    Returns
    -------
    pandas.DataFrame
        Alert rows (:func:`alert_frame` layout), ordered by time.

    Raises
    ------
    InputError
        For an unknown severity or a non-positive limit.
    """
    check_severity(min_severity)
    if limit is not None and (isinstance(limit, bool) or int(limit) <= 0):
        raise InputError(f"limit must be a positive number, got {limit!r}")
    ensure_tables(store)
    wanted = list(SEVERITIES[SEVERITIES.index(min_severity) :])
    params: dict[str, Any] = {
        "start": start if start is not None else pd.Timestamp("1900-01-01", tz="UTC"),
        "end": end if end is not None else pd.Timestamp("2299-12-31", tz="UTC"),
        "severities": wanted,
        "detectors": list(detectors or ()),
        "all_detectors": int(not detectors),
        "suppressed": int(include_suppressed),
        "limit": int(limit) if limit is not None else 0,
    }
    table = store.query_arrow(
        f"SELECT {', '.join(ALERT_COLUMNS)} FROM alerts "  # noqa: S608 - constant column list
        "WHERE AlertTime >= {start:DateTime64(3)} AND AlertTime < {end:DateTime64(3)} "
        "AND Severity IN {severities:Array(String)} "
        "AND ({all_detectors:UInt8} = 1 OR Detector IN {detectors:Array(String)}) "
        "AND ({suppressed:UInt8} = 1 OR Suppressed = 0) "
        "ORDER BY Score DESC, AlertTime, AlertID "
        "LIMIT if({limit:UInt64} = 0, 18446744073709551615, {limit:UInt64})",
        params,
    )
    return from_arrow(table)
