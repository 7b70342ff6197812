"""What drift is measured on: the rows of two time windows, as SQL (:class:`Source`).

* :func:`entity_source`: entity features (per client IP, JA4 ...), reusing the one
  ``GROUP BY`` statement of :func:`workbench.features.entity_features_sql` as a subquery for
  each window, so features are computed in ClickHouse exactly as everywhere else;
* :func:`request_source`: columns of the requests themselves (country, status class,
  user-agent family, bot score ...), one row per request;
* :func:`score_source`: a model's ``Score`` (1–99) per scored row, for one model version.

Windows are ``[start, end)`` in UTC and bound as parameters (``ref_start``, ``ref_end``,
``cur_start``, ``cur_end``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.errors import InputError
from workbench.features.entity import entity_features_sql, query_settings, to_utc
from workbench.features.registry import (
    UA_FAMILY_CODES,
    EntityKind,
    features_for,
    resolve_entity,
    ua_family_sql,
)
from workbench.monitor.histograms import Source
from workbench.store.identifiers import check_identifier

_START = "{start:DateTime64(3, 'UTC')}"
_END = "{end:DateTime64(3, 'UTC')}"

#: Request columns compared as categories: name to ClickHouse expression.
REQUEST_CATEGORICAL: dict[str, str] = {
    "country": "ClientCountry",
    "status_class": "concat(toString(intDiv(EdgeResponseStatus, 100)), 'xx')",
    "ua_family": (
        f"transform({ua_family_sql('ClientRequestUserAgent')}, "
        "{_ua_codes:Array(UInt8)}, {_ua_names:Array(String)}, 'other')"
    ),
    "method": "ClientRequestMethod",
    "device_type": "ClientDeviceType",
    "http_protocol": "ClientRequestProtocol",
    "tls_protocol": "ClientSSLProtocol",
    "security_action": "SecurityAction",
}
#: Request columns compared as numbers: name to ClickHouse expression.
REQUEST_NUMERIC: dict[str, str] = {
    "bot_score": "BotScore",
    "waf_attack_score": "WAFAttackScore",
    "request_bytes": "ClientRequestBytes",
    "response_bytes": "EdgeResponseBytes",
}
#: Weighting of entity features: each entity counts once, or as many times as its requests.
WEIGHTS = ("entities", "requests")
#: Column of the request and score sources naming the client a row comes from.
_CLIENT = "_client"
#: The feature giving an entity's row count, per table (the weight for ``requests``).
_VOLUME = {"http_requests": "requests", "auth_events": "auth_events"}


@dataclass(frozen=True)
class Window:
    """A time window ``[start, end)``, UTC.

    Attributes
    ----------
    start, end : datetime.datetime
        Timezone-aware UTC bounds; ``start`` inclusive, ``end`` exclusive.
    """

    start: dt.datetime
    end: dt.datetime

    @classmethod
    def of(cls, start: Any, end: Any, name: str = "window") -> Window:
        """Read a window from two time values.

        Parameters
        ----------
        start, end : datetime, pandas.Timestamp, numpy.datetime64 or ISO-8601 str
            Bounds (naive values are UTC).
        name : str, default "window"
            What the window is, for the error message.

        Returns
        -------
        Window
            The window.

        Raises
        ------
        InputError
            When a bound is not a time or ``start`` is not before ``end``.
        """
        lo, hi = to_utc(start, f"{name} start"), to_utc(end, f"{name} end")
        if lo >= hi:
            raise InputError(f"{name} start ({lo}) must be before its end ({hi})")
        return cls(lo, hi)

    @property
    def length(self) -> dt.timedelta:
        """Length of the window."""
        return self.end - self.start

    def __str__(self) -> str:
        """``2026-11-01 00:00 .. 2026-11-02 00:00 UTC``."""
        fmt = "%Y-%m-%d %H:%M"
        return f"{self.start:{fmt}} .. {self.end:{fmt}} UTC"


def as_window(value: Window | Sequence[Any], name: str) -> Window:
    """Return ``value`` as a :class:`Window` (it may be a ``(start, end)`` pair).

    Parameters
    ----------
    value : Window or (start, end)
        The window.
    name : str
        What it is (``reference``, ``current``), for the error message.

    Returns
    -------
    Window
        The window.

    Raises
    ------
    InputError
        When it is neither.
    """
    if isinstance(value, Window):
        return value
    if isinstance(value, str) or not isinstance(value, Sequence) or len(value) != 2:
        raise InputError(f"the {name} window must be a (start, end) pair, got {value!r}")
    return Window.of(value[0], value[1], name)


def window_parameters(reference: Window, current: Window) -> dict[str, dt.datetime]:
    """Return the bound parameters of both windows.

    Parameters
    ----------
    reference, current : Window
        The windows.

    Returns
    -------
    dict
        ``ref_start``, ``ref_end``, ``cur_start``, ``cur_end``.
    """
    return {
        "ref_start": reference.start,
        "ref_end": reference.end,
        "cur_start": current.start,
        "cur_end": current.end,
    }


def _rebind(sql: str, prefix: str) -> str:
    """Rename a statement's ``start``/``end`` placeholders to ``<prefix>_start``/``_end``."""
    if _START not in sql or _END not in sql:
        raise InputError("the feature statement lacks its window placeholders")
    return sql.replace(_START, _START.replace("{start", f"{{{prefix}_start")).replace(
        _END, _END.replace("{end", f"{{{prefix}_end")
    )


def entity_source(
    entity: str | EntityKind,
    reference: Window,
    current: Window,
    features: Sequence[str] | None = None,
    weight: str = "entities",
    settings: Mapping[str, Any] | None = None,
) -> Source:
    """Return entity features of both windows as a :class:`Source`.

    Parameters
    ----------
    entity : str or EntityKind
        Entity kind or alias (``ip``, ``ClientIP``, ``ja4`` ...).
    reference, current : Window
        The windows.
    features : sequence of str, optional
        Feature names (default: every feature of the entity).
    weight : {"entities", "requests"}, default "entities"
        Count each entity once, or as many times as it has rows (requests, auth events), so
        the distributions describe traffic rather than clients.
    settings : mapping, optional
        ClickHouse settings overriding the feature query's defaults.

    Returns
    -------
    Source
        One row per entity and window; numeric columns are the features.

    Raises
    ------
    InputError
        Unknown entity, feature or weighting.
    """
    kind = resolve_entity(entity)
    if weight not in WEIGHTS:
        raise InputError(f"weight must be one of {', '.join(WEIGHTS)}, got {weight!r}")
    chosen = [f.name for f in features_for(kind, None if features is None else list(features))]
    volume = _VOLUME[kind.table]
    queried = chosen if weight == "entities" or volume in chosen else [*chosen, volume]
    sql = entity_features_sql(kind, queried)
    return Source(
        name=f"{kind.name} features",
        reference_sql=_rebind(sql, "ref"),
        current_sql=_rebind(sql, "cur"),
        parameters=window_parameters(reference, current),
        numeric=tuple(chosen),
        weight=volume if weight == "requests" else None,
        settings=query_settings(kind, settings),
    )


def _request_sql(columns: Mapping[str, str], prefix: str) -> str:
    named = {**columns, _CLIENT: "ClientIP"}
    select = ", ".join(f"{expr} AS {check_identifier(name)}" for name, expr in named.items())
    return (
        f"SELECT {select} FROM http_requests "  # noqa: S608 - constant expressions
        f"WHERE EdgeStartTimestamp >= {{{prefix}_start:DateTime64(3, 'UTC')}} "
        f"AND EdgeStartTimestamp < {{{prefix}_end:DateTime64(3, 'UTC')}}"
    )


def request_source(
    reference: Window,
    current: Window,
    categorical: Sequence[str] | None = None,
    numeric: Sequence[str] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> Source:
    """Return request-level columns of both windows as a :class:`Source`.

    Parameters
    ----------
    reference, current : Window
        The windows.
    categorical : sequence of str, optional
        Names from :data:`REQUEST_CATEGORICAL` (default: all).
    numeric : sequence of str, optional
        Names from :data:`REQUEST_NUMERIC` (default: all).
    settings : mapping, optional
        ClickHouse settings.

    Returns
    -------
    Source
        One row per request and window, clustered by client IP (a client's requests are
        not independent draws).

    Raises
    ------
    InputError
        When a name is unknown.
    """
    cats = list(REQUEST_CATEGORICAL if categorical is None else categorical)
    nums = list(REQUEST_NUMERIC if numeric is None else numeric)
    for name in cats:
        if name not in REQUEST_CATEGORICAL:
            raise InputError(
                f"unknown request category {name!r}; known: {', '.join(REQUEST_CATEGORICAL)}"
            )
    for name in nums:
        if name not in REQUEST_NUMERIC:
            raise InputError(
                f"unknown request column {name!r}; known: {', '.join(REQUEST_NUMERIC)}"
            )
    if not cats and not nums:
        raise InputError("no request columns to compare")
    columns = {n: REQUEST_CATEGORICAL[n] for n in cats} | {n: REQUEST_NUMERIC[n] for n in nums}
    params: dict[str, Any] = dict(window_parameters(reference, current))
    if "ua_family" in cats:
        params["_ua_codes"] = list(UA_FAMILY_CODES.values())
        params["_ua_names"] = list(UA_FAMILY_CODES)
    return Source(
        name="requests",
        reference_sql=_request_sql(columns, "ref"),
        current_sql=_request_sql(columns, "cur"),
        parameters=params,
        numeric=tuple(nums),
        categorical=tuple(cats),
        cluster=_CLIENT,
        settings=dict(settings or {}),
    )


def _score_sql(prefix: str) -> str:
    return (
        f"SELECT Score AS score, if(Entity = '', RayID, Entity) AS {_CLIENT} FROM scores "  # noqa: S608
        "WHERE Model = {model:String} AND Version = {version:String} "
        f"AND EventTime >= {{{prefix}_start:DateTime64(3, 'UTC')}} "
        f"AND EventTime < {{{prefix}_end:DateTime64(3, 'UTC')}}"
    )


def score_source(
    model: str,
    version: str,
    reference: Window,
    current: Window,
    settings: Mapping[str, Any] | None = None,
) -> Source:
    """Return one model version's scores in both windows as a :class:`Source`.

    Parameters
    ----------
    model, version : str
        ``Model`` and ``Version`` as the ``scores`` table holds them.
    reference, current : Window
        The windows (on ``EventTime``, the time of the scored event).
    settings : mapping, optional
        ClickHouse settings.

    Returns
    -------
    Source
        One row per score and window, numeric column ``score``, clustered by the scored
        entity (rows without one stand alone).
    """
    for what, value in (("model", model), ("version", version)):
        if not isinstance(value, str) or not value:
            raise InputError(f"{what} must be a non-empty string, got {value!r}")
    params = {**window_parameters(reference, current), "model": model, "version": version}
    return Source(
        name=f"scores of {model} {version}",
        reference_sql=_score_sql("ref"),
        current_sql=_score_sql("cur"),
        parameters=params,
        numeric=("score",),
        cluster=_CLIENT,
        settings=dict(settings or {}),
    )
