"""Where an investigated entity's rows live, and the queries the investigation runs on them.

Request entities (IP, ASN, JA4, user agent) are rows of ``http_requests``; accounts are rows
of ``auth_events``. For each kind this module knows the table, its time column, the column
naming the entity, the columns through which other entities are related (a shared
fingerprint, network, user agent, source address or device), and how to fetch the entity's
newest rows and the alerts that name it. Every value is a bound parameter; table and column
names pass :func:`~workbench.store.identifiers.check_identifier`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from workbench.errors import InputError
from workbench.store import Store
from workbench.store.identifiers import check_identifier


@dataclass(frozen=True)
class EntitySource:
    """An entity kind's table and relations.

    Attributes
    ----------
    label : str
        What the kind is called in a report.
    table, time_column, key : str
        The table, its event-time column, and the column naming the entity.
    related_by : dict of str to str
        Columns through which other entities are related, with their headings.
    sample_columns : tuple of str
        Columns shown for the entity's newest rows.
    unit : str
        What one row is (``requests``, ``events``).
    """

    label: str
    table: str
    time_column: str
    key: str
    related_by: dict[str, str]
    sample_columns: tuple[str, ...]
    unit: str


_REQUEST_RELATIONS = {
    "ClientIP": "same IP address",
    "ClientASN": "same network (ASN)",
    "JA4": "same TLS fingerprint (JA4)",
    "ClientRequestUserAgent": "same user agent",
}
_REQUEST_SAMPLES = ("EdgeStartTimestamp", "ClientIP", "ClientRequestMethod", "ClientRequestHost",
                    "ClientRequestPath", "ClientRequestQuery", "ClientRequestUserAgent", "JA4",
                    "EdgeResponseStatus", "BotScore")  # fmt: skip


def _request_source(label: str, key: str) -> EntitySource:
    relations = {c: t for c, t in _REQUEST_RELATIONS.items() if c != key}
    return EntitySource(label, "http_requests", "EdgeStartTimestamp", key, relations,
                        _REQUEST_SAMPLES, "requests")  # fmt: skip


#: Entity kinds an investigation covers (the features registry's names).
SOURCES: dict[str, EntitySource] = {
    "ip": _request_source("IP address", "ClientIP"),
    "asn": _request_source("network (ASN)", "ClientASN"),
    "ja4": _request_source("TLS fingerprint (JA4)", "JA4"),
    "user_agent": _request_source("user agent", "ClientRequestUserAgent"),
    "account": EntitySource(
        "account", "auth_events", "EventTime", "User",
        {"SourceIP": "same source IP address", "Device": "same device",
         "SourceASN": "same network (ASN)"},
        ("EventTime", "EventType", "Success", "Repeats", "AuthMethod", "SourceIP", "SourceCountry",
         "Device", "Host", "TargetUser", "Command"),
        "events",
    ),
}  # fmt: skip

_RELATED_SQL = """
WITH mine AS (
    SELECT {via:Identifier} AS shared, count() AS own
    FROM {table:Identifier}
    WHERE toString({key:Identifier}) = {entity:String}
      AND {time:Identifier} >= {start:DateTime64(3)} AND {time:Identifier} < {end:DateTime64(3)}
      AND toString({via:Identifier}) NOT IN ('', '0')
    GROUP BY shared
    ORDER BY own DESC, shared
    LIMIT 3
)
SELECT
    toString({via:Identifier}) AS shared_value,
    toString({key:Identifier}) AS related_entity,
    count() AS rows,
    min({time:Identifier}) AS first_seen,
    max({time:Identifier}) AS last_seen
FROM {table:Identifier}
WHERE {time:Identifier} >= {start:DateTime64(3)} AND {time:Identifier} < {end:DateTime64(3)}
  AND {via:Identifier} IN (SELECT shared FROM mine)
  AND toString({key:Identifier}) != {entity:String}
GROUP BY shared_value, related_entity
ORDER BY rows DESC, related_entity
LIMIT {limit:UInt32}
"""
_ALERTS_SQL = """
SELECT
    AlertTime, LastSeen, Detector, Severity, round(Score, 3) AS Score, EntityType, Entity,
    arrayStringConcat(Reasons, ' | ') AS Reasons, Users, IncidentID, Suppressed, SuppressedBy
FROM alerts
WHERE AlertTime < {end:DateTime64(3)} AND LastSeen >= {start:DateTime64(3)}
  AND (Entity = {entity:String} OR has(Users, {entity:String}) OR has(SourceIPs, {entity:String})
       OR has(Devices, {entity:String}))
ORDER BY AlertTime DESC, AlertID
LIMIT {limit:UInt32}
"""
ALERT_COLUMNS = ["AlertTime", "LastSeen", "Detector", "Severity", "Score", "EntityType",
                 "Entity", "Reasons", "Users", "IncidentID", "Suppressed", "SuppressedBy"]  # fmt: skip


def resolve_source(kind: str) -> EntitySource:
    """Return the source of an entity kind, or raise a clear error.

    Parameters
    ----------
    kind : str
        ``ip``, ``asn``, ``ja4``, ``user_agent`` or ``account``.

    Returns
    -------
    EntitySource

    Raises
    ------
    InputError
        For any other kind.
    """
    if kind not in SOURCES:
        raise InputError(f"entity_kind must be one of {', '.join(SOURCES)}, got {kind!r}")
    return SOURCES[kind]


def entity_value(kind: str, entity: Any) -> Any:
    """Return the entity as the type its column holds (an ASN is a number).

    User agents and account names are kept exactly as given (spaces are part of them).

    Raises
    ------
    InputError
        An empty entity, or an ASN that is not a number.
    """
    source = resolve_source(kind)
    text = str(entity) if kind in ("user_agent", "account") else str(entity).strip()
    if not text.strip():
        raise InputError(f"entity is required: the {source.label} to investigate")
    if kind == "asn":
        if not text.isdigit():
            raise InputError(f"an ASN is a number, got {entity!r}")
        return int(text)
    return text


def newest_rows(store: Store, kind: str, entity: str, window: dict, limit: int) -> pd.DataFrame:
    """Return the entity's newest rows in the window (requests or authentication events)."""
    source = resolve_source(kind)
    if source.table == "auth_events":
        return store.run("events_for_user", user=entity, limit=int(limit), **window)
    return store.run("requests_for_entity", entity_column=source.key, entity=entity,
                     limit=int(limit), **window)  # fmt: skip


def related_entities(
    store: Store, kind: str, entity: str, window: dict, limit: int
) -> pd.DataFrame:
    """Return other entities sharing one of the entity's three most used related values.

    Returns
    -------
    pandas.DataFrame
        ``shared_value``, ``related_entity``, ``rows``, ``first_seen``, ``last_seen`` and
        ``via`` (the shared column), per relation at most ``limit`` rows.
    """
    source = resolve_source(kind)
    frames = []
    for via in source.related_by:
        params = {"via": check_identifier(via), "key": check_identifier(source.key),
                  "table": check_identifier(source.table),
                  "time": check_identifier(source.time_column), "entity": entity,
                  "limit": int(limit), **window}  # fmt: skip
        frames.append(store.query_df(_RELATED_SQL, params).assign(via=via))
    columns = ["shared_value", "related_entity", "rows", "first_seen", "last_seen", "via"]
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def alerts_naming(store: Store, entity: str, window: dict, limit: int) -> pd.DataFrame:
    """Return the alerts overlapping the window that name the entity.

    An alert names it when it is the alert's entity or one of its users, source IPs or
    devices (so an IP under investigation shows the login attacks it took part in).
    ``Users`` is a list per alert.
    """
    return store.query_df(_ALERTS_SQL, {"entity": entity, "limit": int(limit), **window})


def account_names(kind: str, entity: str, rows: pd.DataFrame, related: pd.DataFrame,
                  alerts: pd.DataFrame) -> list[str]:  # fmt: skip
    """Return the account names an investigation shows (for ``--redact``).

    The investigated account and the accounts related to it, the users and target users of
    its events, and every user of the alerts naming the entity.
    """
    names: list[str] = []
    if kind == "account":
        names += [entity, *related.get("related_entity", pd.Series(dtype=object)).tolist()]
        for column in ("User", "TargetUser"):
            if column in rows.columns:
                names += rows[column].astype(str).tolist()
    if not alerts.empty:
        names += [str(u) for users in alerts["Users"] for u in users]
        names += alerts.loc[alerts["EntityType"] == "user", "Entity"].astype(str).tolist()
    return sorted({n for n in names if n})
