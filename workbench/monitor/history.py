"""Keep monitoring results in the ``monitoring`` table and read them back as trends.

Every check (drift, calibration, performance) becomes rows of one long table: one row per
run, subject and metric, with the windows, the severity and, for drift, the binned
distributions as JSON (``Details``), so a notebook can redraw any past comparison. The DDL
is ``workbench/store/schema/10_monitoring.sql``.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from workbench.errors import InputError
from workbench.features.entity import to_utc
from workbench.monitor.calibration import CalibrationReport
from workbench.monitor.performance import BUCKETS, PERFORMANCE_COLUMNS
from workbench.monitor.report import DriftReport, json_ready
from workbench.store.base import Store

TABLE = "monitoring"
#: Metrics of a drift row kept in the table.
DRIFT_METRICS = ("psi", "ks", "js", "p_value")
#: Metrics of a performance row kept in the table.
PERFORMANCE_METRICS = tuple(
    c for c in PERFORMANCE_COLUMNS if c not in ("model", "version", "period")
)
#: "No reference window": both bounds at the epoch.
NO_WINDOW = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_BUCKET_LENGTH = {
    "hour": dt.timedelta(hours=1),
    "day": dt.timedelta(days=1),
    "week": dt.timedelta(days=7),
}
_SCHEMA = pa.schema(
    [
        ("RunID", pa.string()),
        ("RunTime", pa.timestamp("ms", tz="UTC")),
        ("Kind", pa.string()),
        ("EntityType", pa.string()),
        ("ReferenceStart", pa.timestamp("ms", tz="UTC")),
        ("ReferenceEnd", pa.timestamp("ms", tz="UTC")),
        ("CurrentStart", pa.timestamp("ms", tz="UTC")),
        ("CurrentEnd", pa.timestamp("ms", tz="UTC")),
        ("Scope", pa.string()),
        ("Subject", pa.string()),
        ("Metric", pa.string()),
        ("Value", pa.float64()),
        ("Severity", pa.string()),
        ("Model", pa.string()),
        ("Version", pa.string()),
        ("ReferenceRows", pa.float64()),
        ("CurrentRows", pa.float64()),
        ("Details", pa.string()),
    ]
)


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _json(value: Any) -> str:
    return json.dumps(json_ready(value), ensure_ascii=False, separators=(",", ":"))


def _table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=_SCHEMA)


def drift_rows(report: DriftReport) -> pa.Table:
    """Return a drift report as ``monitoring`` rows (one per subject and metric).

    Parameters
    ----------
    report : DriftReport
        The report.

    Returns
    -------
    pyarrow.Table
        Rows in the table's layout.
    """
    rows = []
    base = {
        "RunID": report.run_id,
        "RunTime": report.run_time,
        "Kind": "drift",
        "ReferenceStart": report.reference.start,
        "ReferenceEnd": report.reference.end,
        "CurrentStart": report.current.start,
        "CurrentEnd": report.current.end,
    }
    for rec in report.results.to_dict("records"):
        for metric in DRIFT_METRICS:
            rows.append(
                {
                    **base,
                    "EntityType": report.entity if rec["group"].endswith("features") else "",
                    "Scope": str(rec["group"]),
                    "Subject": str(rec["subject"]),
                    "Metric": metric,
                    "Value": _float(rec[metric]),
                    "Severity": str(rec["severity"]),
                    "Model": str(rec["model"]),
                    "Version": str(rec["version"]),
                    "ReferenceRows": _float(rec["n_reference"]),
                    "CurrentRows": _float(rec["n_current"]),
                    "Details": _json(rec["details"]) if metric == "psi" else "",
                }
            )
    return _table(rows)


def calibration_rows(report: CalibrationReport, run_id: str | None = None) -> pa.Table:
    """Return a calibration report as ``monitoring`` rows.

    Parameters
    ----------
    report : CalibrationReport
        The report.
    run_id : str, optional
        Run identifier (a new one by default).

    Returns
    -------
    pyarrow.Table
        Rows ``ece_reference``, ``ece``, ``ece_delta`` per model version; the reliability
        curves go in ``Details`` of the ``ece`` row.
    """
    run_id = run_id or uuid.uuid4().hex
    now = dt.datetime.now(dt.UTC)
    rows = []
    for rec in report.results.to_dict("records"):
        curves = report.curves[
            (report.curves["model"] == rec["model"]) & (report.curves["version"] == rec["version"])
        ]
        details = {
            w: curves[curves["window"] == w]
            .drop(columns=["model", "version", "window"])
            .to_dict("list")
            for w in ("reference", "current")
        }
        for metric, column in (
            ("ece_reference", "ece_reference"),
            ("ece", "ece_current"),
            ("ece_delta", "ece_delta"),
        ):
            rows.append(
                {
                    "RunID": run_id,
                    "RunTime": now,
                    "Kind": "calibration",
                    "EntityType": "",
                    "ReferenceStart": report.reference.start,
                    "ReferenceEnd": report.reference.end,
                    "CurrentStart": report.current.start,
                    "CurrentEnd": report.current.end,
                    "Scope": "calibration",
                    "Subject": "probability",
                    "Metric": metric,
                    "Value": _float(rec[column]),
                    "Severity": str(rec["severity"]),
                    "Model": str(rec["model"]),
                    "Version": str(rec["version"]),
                    "ReferenceRows": _float(rec["labelled_reference"]),
                    "CurrentRows": _float(rec["labelled_current"]),
                    "Details": _json(details) if metric == "ece" else "",
                }
            )
    return _table(rows)


def performance_rows(
    frame: pd.DataFrame, bucket: str = "day", run_id: str | None = None
) -> pa.Table:
    """Return :func:`~workbench.monitor.performance_over_time` output as ``monitoring`` rows.

    Parameters
    ----------
    frame : pandas.DataFrame
        Performance per model, version and period.
    bucket : {"hour", "day", "week"}, default "day"
        Period length (the current window of each row is ``[period, period + bucket)``).
    run_id : str, optional
        Run identifier (a new one by default).

    Returns
    -------
    pyarrow.Table
        One row per period and metric; no reference window (epoch bounds).
    """
    if bucket not in BUCKETS:
        raise InputError(f"bucket must be one of {', '.join(BUCKETS)}, got {bucket!r}")
    missing = [c for c in PERFORMANCE_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"performance frame lacks columns {missing}")
    run_id = run_id or uuid.uuid4().hex
    now = dt.datetime.now(dt.UTC)
    rows = []
    for rec in frame.to_dict("records"):
        start = to_utc(rec["period"], "period")
        for metric in PERFORMANCE_METRICS:
            rows.append(
                {
                    "RunID": run_id,
                    "RunTime": now,
                    "Kind": "performance",
                    "EntityType": "",
                    "ReferenceStart": NO_WINDOW,
                    "ReferenceEnd": NO_WINDOW,
                    "CurrentStart": start,
                    "CurrentEnd": start + _BUCKET_LENGTH[bucket],
                    "Scope": "performance",
                    "Subject": "score",
                    "Metric": metric,
                    "Value": _float(rec[metric]),
                    "Severity": "",
                    "Model": str(rec["model"]),
                    "Version": str(rec["version"]),
                    "ReferenceRows": float("nan"),
                    "CurrentRows": _float(rec["scored"]),
                    "Details": "",
                }
            )
    return _table(rows)


def write_monitoring(
    store: Store, result: Any, run_id: str | None = None, bucket: str = "day"
) -> int:
    """Append a monitoring result to the ``monitoring`` table.

    Parameters
    ----------
    store : Store
        Where the table is.
    result : DriftReport, CalibrationReport or pandas.DataFrame
        A drift report, a calibration report, or performance over time.
    run_id : str, optional
        Run identifier for calibration and performance rows (drift reports carry theirs).
    bucket : str, default "day"
        Period length of performance rows.

    Returns
    -------
    int
        Rows written.

    Raises
    ------
    InputError
        When ``result`` is none of these.
    """
    if isinstance(result, DriftReport):
        table = drift_rows(result)
    elif isinstance(result, CalibrationReport):
        table = calibration_rows(result, run_id)
    elif isinstance(result, pd.DataFrame):
        table = performance_rows(result, bucket, run_id)
    else:
        raise InputError(
            f"cannot store a {type(result).__name__}: expected a DriftReport, a "
            "CalibrationReport or a performance DataFrame"
        )
    return store.insert_arrow(TABLE, table)


def monitoring_history(
    store: Store,
    kind: str | None = None,
    scope: str | None = None,
    subjects: Iterable[str] | None = None,
    metric: str | None = None,
    model: str | None = None,
    since: Any = None,
    limit: int = 10_000,
) -> pd.DataFrame:
    """Read monitoring rows back, oldest first within each subject.

    Parameters
    ----------
    store : Store
        Where the table is.
    kind : str, optional
        ``drift``, ``calibration`` or ``performance``.
    scope : str, optional
        ``ip features``, ``requests``, ``scores of ...``, ``performance`` ...
    subjects : iterable of str, optional
        Only these subjects.
    metric : str, optional
        Only this metric (``psi`` ...).
    model : str, optional
        Only rows of this model.
    since : datetime or str, optional
        Only runs at or after this time.
    limit : int, default 10000
        Most rows returned (the most recent ones).

    Returns
    -------
    pandas.DataFrame
        ``RunID``, ``RunTime``, ``Kind``, ``EntityType``, the windows, ``Scope``,
        ``Subject``, ``Metric``, ``Value``, ``Severity``, ``Model``, ``Version``,
        ``ReferenceRows``, ``CurrentRows``.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InputError(f"limit must be a positive integer, got {limit!r}")
    subject_list = [str(s) for s in subjects] if subjects is not None else []
    params = {
        "kind": kind or "",
        "scope": scope or "",
        "subjects": subject_list,
        "any_subject": 0 if subject_list else 1,
        "metric": metric or "",
        "model": model or "",
        "since": to_utc(since, "since") if since is not None else NO_WINDOW,
        "limit": limit,
    }
    sql = (
        "SELECT * FROM (\n"
        "  SELECT RunID, RunTime, toString(Kind) AS Kind, toString(EntityType) AS EntityType,\n"
        "         ReferenceStart, ReferenceEnd, CurrentStart, CurrentEnd,\n"
        "         toString(Scope) AS Scope, Subject, toString(Metric) AS Metric, Value,\n"
        "         toString(Severity) AS Severity, toString(Model) AS Model,\n"
        "         toString(Version) AS Version, ReferenceRows, CurrentRows\n"
        "  FROM monitoring\n"
        "  WHERE ({kind:String} = '' OR Kind = {kind:String})\n"
        "    AND ({scope:String} = '' OR Scope = {scope:String})\n"
        "    AND ({any_subject:UInt8} = 1 OR has({subjects:Array(String)}, Subject))\n"
        "    AND ({metric:String} = '' OR Metric = {metric:String})\n"
        "    AND ({model:String} = '' OR Model = {model:String})\n"
        "    AND RunTime >= {since:DateTime64(3, 'UTC')}\n"
        "  ORDER BY RunTime DESC, Scope, Subject, Metric\n"
        "  LIMIT {limit:UInt64})\n"
        "ORDER BY Kind, Scope, Subject, Metric, RunTime"
    )
    return store.query_df(sql, params)


def trend(history: pd.DataFrame, last: int = 5) -> pd.DataFrame:
    """Pivot monitoring history to one row per subject and metric, the last runs as columns.

    Parameters
    ----------
    history : pandas.DataFrame
        Rows of :func:`monitoring_history`.
    last : int, default 5
        Runs shown per subject (the most recent ones).

    Returns
    -------
    pandas.DataFrame
        ``Kind``, ``Scope``, ``Subject``, ``Metric``, ``Model``, ``Version``, the values
        of the last runs oldest first (``t-<k>`` ... ``t-0``), ``change`` (last minus the
        one before) and the latest ``Severity``.
    """
    if isinstance(last, bool) or not isinstance(last, int) or last < 1:
        raise InputError(f"last must be a positive integer, got {last!r}")
    keys = ["Kind", "Scope", "Subject", "Metric", "Model", "Version"]
    columns = [*keys, *(f"t-{k}" for k in range(last - 1, -1, -1)), "change", "Severity"]
    if history.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    ordered = history.sort_values("RunTime")
    for key, group in ordered.groupby(keys, sort=True):
        values = group["Value"].to_numpy(dtype=np.float64)[-last:]
        padded = [float("nan")] * (last - len(values)) + list(values)
        change = values[-1] - values[-2] if len(values) >= 2 else float("nan")
        rows.append([*key, *padded, change, group["Severity"].iloc[-1]])
    return pd.DataFrame(rows, columns=columns)
