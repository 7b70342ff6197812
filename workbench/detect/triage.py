"""Triage: suppress known-benign alerts, drop repeats, group the rest into incidents, rank them.

1. **Allowlist.** An alert matching a rule of the allowlist is suppressed (``Suppressed = 1``,
   ``SuppressedBy`` = the rule name), and counted per rule.
2. **Repeats.** Alerts of one detector on one entity within ``dedup_hours`` of the first of
   them are one detection: the highest-scoring stays, the others are suppressed with
   ``SuppressedBy = "repeat of <AlertID>"`` and join its incident.
3. **Grouping.** Alerts sharing an account, a source address or a device fingerprint, less
   than ``window_hours`` apart, belong together (union-find over those links). A key shared
   by more than ``hub_limit`` entities (a busy NAT address, a stock user agent) links nothing.
   Alerts listing more than ``max_link`` accounts or addresses (a spraying run) link through
   their own entity only, so every sprayed account does not join one giant incident.
4. **Incidents.** A group becomes an incident when its risk reaches ``min_severity``;
   ``risk = max score + 5 per extra detector + 3 per extra entity + 2 log2(alerts)`` (capped
   at 100; the three first-seen detectors count as one). Incidents are ranked by risk;
   weaker groups stay as unassigned alerts.

The work is a pure function on alert rows (:func:`triage`); :func:`triage_alerts` reads the
alerts of a window from the store, runs it and writes the outcome back.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from workbench.detect.alerts import (
    ALERT_COLUMNS,
    SEVERITY_FLOORS,
    check_severity,
    ensure_tables,
    read_alerts,
    severity_for,
)
from workbench.detect.allowlist import Allowlist
from workbench.detect.text import clip
from workbench.errors import InputError
from workbench.store.base import Store

INCIDENT_COLUMNS = (
    "IncidentID", "FirstSeen", "LastSeen", "Risk", "Severity", "RiskRank", "Alerts", "Repeats",
    "Detectors", "Users", "SourceIPs", "Summary", "Reasons", "label", "campaigns",
)  # fmt: skip
_UPDATE_CHUNK = 1000


@dataclass
class TriageResult:
    """The outcome of triage.

    Attributes
    ----------
    alerts : pandas.DataFrame
        Every alert, with ``IncidentID``, ``Suppressed`` and ``SuppressedBy`` set.
    incidents : pandas.DataFrame
        One row per incident (:data:`INCIDENT_COLUMNS`), highest risk first.
    suppressed : dict of str to int
        Alerts suppressed per allowlist rule (every rule listed, zeros included).
    repeats : int
        Alerts dropped as repeats of another.
    ungrouped : int
        Alerts left outside incidents (their group's risk was below the threshold).
    """

    alerts: pd.DataFrame
    incidents: pd.DataFrame
    suppressed: dict[str, int] = field(default_factory=dict)
    repeats: int = 0
    ungrouped: int = 0


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


def _hours(name: str, value: Any) -> pd.Timedelta:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 24 * 90:
        raise InputError(f"{name} must be a number of hours in (0, 2160], got {value!r}")
    return pd.Timedelta(hours=float(value))


def _suppress_repeats(alerts: pd.DataFrame, dedup: pd.Timedelta) -> dict[int, int]:
    """Return {repeat row: representative row} among unsuppressed alerts."""
    live = alerts[alerts["Suppressed"] == 0]
    order = live.sort_values(["Detector", "EntityType", "Entity", "AlertTime", "AlertID"])
    keys = list(zip(order["Detector"], order["EntityType"], order["Entity"], strict=True))
    times, scores = order["AlertTime"].to_numpy(), order["Score"].to_numpy()
    rows, gap = order.index.to_numpy(), dedup.to_timedelta64()
    out: dict[int, int] = {}
    start = 0
    for i in range(1, len(rows) + 1):
        if i < len(rows) and keys[i] == keys[start] and times[i] < times[start] + gap:
            continue
        if i - start > 1:  # a run of repeats: keep the highest score, the earliest among equals
            keep = start + int(np.argmax(scores[start:i]))
            out.update({int(rows[j]): int(rows[keep]) for j in range(start, i) if j != keep})
        start = i
    return out


def _link_keys(
    kind: str, entity: str, users: list, ips: list, devices: list, max_link: int
) -> list[tuple[str, str]]:
    keys = [(kind, entity)]
    for name, values in (("user", users), ("ip", ips), ("device", devices)):
        if len(values) <= max_link:
            keys += [(name, str(v)) for v in values]
    return list(dict.fromkeys(keys))


def _group(
    alerts: pd.DataFrame, rows: list[int], window: pd.Timedelta, hub_limit: int, max_link: int
) -> _UnionFind:
    """Union alerts (positions in ``rows``) that share a key within ``window``."""
    part = alerts.loc[rows]
    entity = list(zip(part["EntityType"], part["Entity"], strict=True))
    times = part["AlertTime"].to_numpy()
    lasts = part["LastSeen"].to_numpy()
    gap = window.to_timedelta64()
    uf = _UnionFind(len(rows))
    by_key: dict[tuple[str, str], list[int]] = defaultdict(list)
    columns = zip(part["Users"], part["SourceIPs"], part["Devices"], strict=True)
    for pos, (users, ips, devices) in enumerate(columns):
        kind, name = entity[pos]
        for key in _link_keys(kind, name, list(users), list(ips), list(devices), max_link):
            by_key[key].append(pos)
    for key, members in by_key.items():
        if len(members) < 2:
            continue
        entities = {entity[p] for p in members}
        if len(entities) > hub_limit and key not in entities:
            continue  # a hub: shared by too many entities to mean anything
        members.sort(key=lambda p: times[p])
        reach = lasts[members[0]]  # end of the current chain
        for prev, cur in zip(members, members[1:], strict=False):
            if times[cur] - reach <= gap:
                uf.union(prev, cur)
                reach = max(reach, lasts[cur])
            else:
                reach = lasts[cur]
    return uf


#: Detectors that look at the same evidence count once for an incident's breadth (a trip
#: makes a first-seen country, network and device at once).
FAMILIES = {
    "first_seen_country": "first_seen",
    "first_seen_asn": "first_seen",
    "first_seen_device": "first_seen",
}


def families(detectors: Sequence[str]) -> int:
    """Return how many distinct detector families are among ``detectors``."""
    return len({FAMILIES.get(d, d) for d in detectors})


def incident_risk(scores: Sequence[float], detectors: int, entities: int, alerts: int) -> float:
    """Return an incident's risk from its alerts.

    Parameters
    ----------
    scores : sequence of float
        Scores of its (non-repeat) alerts.
    detectors : int
        Distinct detector families among them (:func:`families`).
    entities : int
        Distinct entities (accounts, addresses) they are about.
    alerts : int
        Number of alerts.

    Returns
    -------
    float
        ``max(scores) + 5 (detectors - 1) + 3 (entities - 1) + 2 log2(alerts)``, at most 100.
    """
    if not len(scores):
        raise InputError("an incident needs at least one alert")
    risk = max(scores) + 5.0 * (detectors - 1) + 3.0 * (entities - 1) + 2.0 * math.log2(alerts)
    return round(min(risk, 100.0), 2)


def triage(
    alerts: pd.DataFrame,
    allowlist: Allowlist | None = None,
    window_hours: float = 24.0,
    dedup_hours: float = 24.0,
    min_severity: str = "medium",
    hub_limit: int = 5,
    max_link: int = 3,
) -> TriageResult:
    """Suppress, deduplicate, group and rank alerts (a pure function; nothing is written).

    Parameters
    ----------
    alerts : pandas.DataFrame
        Alert rows (:data:`~workbench.detect.alerts.ALERT_COLUMNS`); earlier triage results
        in them are discarded.
    allowlist : Allowlist, optional
        Known-benign patterns.
    window_hours : float, default 24
        Alerts sharing a key less than this apart are grouped.
    dedup_hours : float, default 24
        Alerts of one detector on one entity within this of the first are repeats.
    min_severity : str, default "medium"
        Least severe incident opened (a lone low alert is not an incident).
    hub_limit : int, default 5
        Keys shared by more entities than this do not link.
    max_link : int, default 3
        Alerts naming more accounts or addresses than this link through their entity only.

    Returns
    -------
    TriageResult
        Updated alerts, incidents and the counts.

    Raises
    ------
    InputError
        For a missing column or an out-of-range setting.
    """
    missing = [c for c in ALERT_COLUMNS if c not in alerts.columns]
    if missing:
        raise InputError(f"alert rows lack column(s) {missing}")
    window, dedup = _hours("window_hours", window_hours), _hours("dedup_hours", dedup_hours)
    check_severity(min_severity)
    for name, value in (("hub_limit", hub_limit), ("max_link", max_link)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{name} must be a positive integer, got {value!r}")
    out = alerts.reset_index(drop=True).copy()
    out["IncidentID"], out["Suppressed"], out["SuppressedBy"] = "", np.uint8(0), ""
    rules = allowlist or Allowlist()
    counts = Counter({r.name: 0 for r in rules.rules})
    if len(rules):
        fields = ["Detector", "Severity", "AlertTime", "Users", "SourceIPs"]
        matched = [rules.match(dict(zip(fields, v, strict=True)))
                   for v in zip(*(out[f] for f in fields), strict=True)]  # fmt: skip
        hit = np.array([bool(m) for m in matched], dtype=bool)
        out.loc[hit, "Suppressed"] = 1
        out.loc[hit, "SuppressedBy"] = [m for m in matched if m]
        counts.update(m for m in matched if m)
    repeat_of = _suppress_repeats(out, dedup)
    if repeat_of:
        ids = out["AlertID"]
        repeats_idx = list(repeat_of)
        out.loc[repeats_idx, "Suppressed"] = 1
        out.loc[repeats_idx, "SuppressedBy"] = [
            f"repeat of {ids[repeat_of[i]]}" for i in repeats_idx
        ]
    rows = [int(i) for i in out.index[out["Suppressed"] == 0]]
    uf = _group(out, rows, window, hub_limit, max_link)
    groups: dict[int, list[int]] = defaultdict(list)
    for pos, idx in enumerate(rows):
        groups[uf.find(pos)].append(idx)
    followers: dict[int, list[int]] = defaultdict(list)
    for idx, keep in repeat_of.items():
        followers[keep].append(idx)
    incidents, ungrouped = [], 0
    assigned: dict[int, str] = {}
    floor = SEVERITY_FLOORS[min_severity]
    score, detector = out["Score"].to_dict(), out["Detector"].to_dict()
    entity = dict(zip(out.index, zip(out["EntityType"], out["Entity"], strict=True), strict=True))
    for members in groups.values():
        risk = incident_risk(
            [score[m] for m in members],
            families([detector[m] for m in members]),
            len({entity[m] for m in members}),
            len(members),
        )
        if risk < floor:
            ungrouped += len(members)
            continue
        part = out.loc[members]
        repeats = [r for m in members for r in followers.get(m, [])]
        everything = out.loc[members + repeats]
        ids = sorted(everything["AlertID"])
        incident_id = "INC-" + hashlib.sha256("\x1f".join(ids).encode()).hexdigest()[:12]
        assigned.update(dict.fromkeys(members + repeats, incident_id))
        incidents.append(_incident(incident_id, part, everything, risk, len(repeats)))
    frame = pd.DataFrame(incidents, columns=list(INCIDENT_COLUMNS))
    if len(frame):
        frame = frame.sort_values(
            ["Risk", "FirstSeen", "IncidentID"], ascending=[False, True, True]
        )
        frame["RiskRank"] = np.arange(1, len(frame) + 1, dtype=np.uint32)
        frame = frame.reset_index(drop=True)
    out["IncidentID"] = [assigned.get(i, "") for i in out.index]
    out["Suppressed"] = out["Suppressed"].astype(np.uint8)
    return TriageResult(out, frame, dict(counts), len(repeat_of), ungrouped)


def _incident(
    incident_id: str, part: pd.DataFrame, everything: pd.DataFrame, risk: float, repeats: int
) -> dict[str, Any]:
    ranked = part.sort_values(["Score", "AlertTime"], ascending=[False, True])
    detectors = sorted(set(part["Detector"]))
    users = sorted({u for us in part["Users"] for u in us} | set(
        part.loc[part["EntityType"] == "user", "Entity"]))  # fmt: skip
    ips = sorted({ip for ips in part["SourceIPs"] for ip in ips} | set(
        part.loc[part["EntityType"] == "ip", "Entity"]))  # fmt: skip
    reasons = list(dict.fromkeys(r[0] for r in ranked["Reasons"] if len(r)))[:5]
    top = ranked.iloc[0]
    others = len(part) - 1
    summary = f"{top['Severity']} {top['Detector'].replace('_', ' ')} on {clip(top['Entity'], 40)}"
    if others:
        summary += f" + {others} related alert{'s' if others > 1 else ''}"
    labels = set(everything["label"])
    label = "attack" if "attack" in labels else ("normal" if "normal" in labels else "")
    return {
        "IncidentID": incident_id,
        "FirstSeen": everything["AlertTime"].min(),
        "LastSeen": everything["LastSeen"].max(),
        "Risk": risk,
        "Severity": severity_for(risk),
        "RiskRank": 0,
        "Alerts": len(part),
        "Repeats": repeats,
        "Detectors": detectors,
        "Users": users[:200],
        "SourceIPs": ips[:200],
        "Summary": summary,
        "Reasons": reasons,
        "label": label,
        "campaigns": sorted({c for c in everything["campaign"] if c}),
    }


def triage_alerts(
    store: Store,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    allowlist: Allowlist | None = None,
    **settings: Any,
) -> TriageResult:
    """Triage the alerts of a window in the store and write the outcome back.

    The alerts get their ``IncidentID``, ``Suppressed`` and ``SuppressedBy``; the incidents
    first seen in the window replace those of an earlier triage.

    Parameters
    ----------
    store : Store
        Where ``alerts`` and ``incidents`` live.
    start, end : pandas.Timestamp, optional
        ``AlertTime`` window ``[start, end)``; all alerts when not given.
    allowlist : Allowlist, optional
        Known-benign patterns.
    **settings
        Passed to :func:`triage` (``window_hours``, ``dedup_hours``, ``min_severity``,
        ``hub_limit``, ``max_link``).

    Returns
    -------
    TriageResult
        What :func:`triage` returned.
    """
    ensure_tables(store)
    alerts = read_alerts(store, start, end)
    result = triage(alerts, allowlist, **settings)
    _update_alerts(store, result.alerts)
    lo = start if start is not None else pd.Timestamp("1900-01-01", tz="UTC")
    hi = end if end is not None else pd.Timestamp("2299-12-31", tz="UTC")
    store.mutate(
        "incidents",
        "DELETE WHERE FirstSeen >= {start:DateTime64(3)} AND FirstSeen < {end:DateTime64(3)}",
        parameters={"start": lo, "end": hi},
        settings={"mutations_sync": 2},
    )
    if len(result.incidents):
        store.insert_arrow("incidents", _incidents_arrow(result.incidents))
    return result


def _update_alerts(store: Store, alerts: pd.DataFrame) -> None:
    """Write IncidentID / Suppressed / SuppressedBy back, one bound mutation per chunk."""
    for lo in range(0, len(alerts), _UPDATE_CHUNK):
        part = alerts.iloc[lo : lo + _UPDATE_CHUNK]
        store.mutate(
            "alerts",
            "UPDATE IncidentID = transform(AlertID, {ids:Array(String)}, {incidents:Array(String)}, ''), "
            "Suppressed = transform(AlertID, {ids:Array(String)}, {suppressed:Array(UInt8)}, "
            "toUInt8(0)), "
            "SuppressedBy = transform(AlertID, {ids:Array(String)}, {by:Array(String)}, '') "
            "WHERE AlertID IN {ids:Array(String)}",
            parameters={
                "ids": part["AlertID"].tolist(),
                "incidents": part["IncidentID"].tolist(),
                "suppressed": [int(x) for x in part["Suppressed"]],
                "by": part["SuppressedBy"].tolist(),
            },
            settings={"mutations_sync": 2},
        )


def _incidents_arrow(incidents: pd.DataFrame) -> pa.Table:
    ts = pa.timestamp("ms", tz="UTC")
    strings = pa.list_(pa.string())
    schema = pa.schema(
        [
            ("IncidentID", pa.string()), ("FirstSeen", ts), ("LastSeen", ts),
            ("Risk", pa.float64()), ("Severity", pa.string()), ("RiskRank", pa.uint32()),
            ("Alerts", pa.uint32()), ("Repeats", pa.uint32()), ("Detectors", strings),
            ("Users", strings), ("SourceIPs", strings), ("Summary", pa.string()),
            ("Reasons", strings), ("label", pa.string()), ("campaigns", strings),
        ]
    )  # fmt: skip
    arrays = []
    for f in schema:
        values = incidents[f.name]
        if pa.types.is_timestamp(f.type):
            values = pd.to_datetime(values, utc=True).astype("datetime64[ms, UTC]")
            arrays.append(pa.array(values, type=f.type))
        elif pa.types.is_list(f.type):
            arrays.append(pa.array([[str(x) for x in v] for v in values], type=f.type))
        else:
            arrays.append(pa.array(values.tolist(), type=f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def read_incidents(
    store: Store,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    min_severity: str = "low",
    limit: int = 50,
) -> pd.DataFrame:
    """Read incidents back, highest risk first.

    Parameters
    ----------
    store : Store
        Where ``incidents`` lives.
    start, end : pandas.Timestamp, optional
        ``FirstSeen`` window ``[start, end)``.
    min_severity : str, default "low"
        Least severe incident returned.
    limit : int, default 50
        At most this many.

    Returns
    -------
    pandas.DataFrame
        Incident rows (:data:`INCIDENT_COLUMNS` and ``TriagedAt``).

    Raises
    ------
    InputError
        For an unknown severity or a non-positive limit.
    """
    check_severity(min_severity)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
        raise InputError(f"limit must be a positive integer, got {limit!r}")
    ensure_tables(store)
    return store.query_df(
        "SELECT * FROM incidents "
        "WHERE FirstSeen >= {start:DateTime64(3)} AND FirstSeen < {end:DateTime64(3)} "
        "AND Risk >= {floor:Float64} ORDER BY Risk DESC, FirstSeen, IncidentID "
        "LIMIT {limit:UInt64}",
        {
            "start": start if start is not None else pd.Timestamp("1900-01-01", tz="UTC"),
            "end": end if end is not None else pd.Timestamp("2299-12-31", tz="UTC"),
            "floor": SEVERITY_FLOORS[min_severity],
            "limit": limit,
        },
    )
