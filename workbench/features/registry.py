"""The one registry of entity features: what each feature means and its ClickHouse expression.

A :class:`Feature` is an aggregate ClickHouse expression over the rows of one entity in a
time window (``[start, end)``, UTC). The entity kinds are in :data:`ENTITY_KINDS`. Shared
sub-expressions (sorted timestamps, the user-agent browser family ...) are *helpers*: named
expressions that :mod:`workbench.features.entity` puts in the query's ``WITH`` clause when a
selected feature mentions them. Every definition below is mirrored, independently, by the
pandas reference in ``tests/features/reference.py``, and the two must agree.

Conventions used in the descriptions:

* a *share* is a count of the entity's requests divided by its request count (0 to 1);
* *inter-arrival gaps* are the differences between the entity's consecutive request
  timestamps, sorted ascending, in seconds with millisecond precision; they exist only for
  entities with at least two requests, otherwise the gap features are NaN;
* a *calendar minute* is ``toStartOfMinute`` of the UTC timestamp;
* account *events* are ``auth_events`` rows weighted by ``Repeats``: syslog folds identical
  lines into one ``message repeated N times: [ ... ]`` row with ``Repeats = N``, and counts
  and shares of events count it N times (distinct counts are of values, unweighted);
* *night* is 00:00 to 05:59 UTC;
* the *browser family* of a user agent comes from the ordered regexes in
  :data:`UA_FAMILY_PATTERNS` (first match wins, ``other`` when none matches, including the
  empty user agent);
* a fingerprint's *majority family* is the browser family most requests with that JA4 claim
  in the window (ties go to the lowest family code), computed across all entities.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from workbench.errors import InputError
from workbench.store.identifiers import check_identifier

#: Browser families with their codes, in the order the SQL ``multiIf`` tests them.
UA_FAMILY_CODES: dict[str, int] = {
    "chrome": 1,
    "firefox": 2,
    "safari": 3,
    "edge": 4,
    "other": 5,
    "bot": 6,
}

#: Ordered ``(family, regex)`` pairs; the first regex found in the user agent decides
#: (RE2 syntax, also valid Python ``re``). Bots first, then Edge, Firefox, Chrome (Chromium
#: browsers such as Opera included), Safari.
UA_FAMILY_PATTERNS: tuple[tuple[str, str], ...] = (
    (
        "bot",
        r"(?i)(bot|crawl|spider|slurp|curl|wget|python|go-http-client|java/|libwww|"
        r"httpclient|okhttp|scrapy|headless|phantomjs|axios|node-fetch)",
    ),
    ("edge", r"Edg(e|A|iOS)?/"),
    ("firefox", r"(Firefox|FxiOS)/"),
    ("chrome", r"(Chrome|CriOS|Chromium)/"),
    ("safari", r"Safari/"),
)

#: Browser families counted as "browser-like" (the rest: ``other`` and ``bot``).
BROWSER_FAMILIES: tuple[str, ...] = ("chrome", "firefox", "safari", "edge")

#: Path extensions that make a request an *asset* (case-insensitive, end of the path).
ASSET_EXTENSIONS: tuple[str, ...] = (
    "css", "js", "png", "jpg", "jpeg", "gif", "svg", "ico",
    "woff", "woff2", "ttf", "webp", "map",
)  # fmt: skip

#: A path is a login path when this regex (case-insensitive) is found in it.
LOGIN_PATH_PATTERN = r"(?i)(login|signin|sign-in|auth)"

#: Night hours, UTC: ``toHour(ts) < NIGHT_END_HOUR``.
NIGHT_END_HOUR = 6

#: Gaps shorter than this many milliseconds count as bursts.
BURST_GAP_MS = 1000

#: User agents kept in the per-query family cache, and rows sampled to choose them.
UA_CACHE_SIZE = 20_000
UA_CACHE_SAMPLE_ROWS = 1_000_000

ASSET_PATTERN = r"(?i)\.(" + "|".join(ASSET_EXTENSIONS) + r")$"


@dataclass(frozen=True)
class EntityKind:
    """A kind of entity that features are computed for.

    Attributes
    ----------
    name : str
        Short name (``ip``, ``ja4`` ...).
    table : str
        Table the rows come from.
    time_column : str
        Timestamp column the window applies to.
    keys : tuple of str
        Columns identifying one entity (the ``GROUP BY`` key).
    description : str
        One line for ``wb features list``.
    aliases : tuple of str
        Other names accepted on the command line (column names).
    in_order : bool
        The keys are a prefix of the table's sorting key, so ClickHouse may aggregate in
        order (bounded memory).
    skip_empty : bool
        Rows whose key is empty are not an entity (requests without a TLS fingerprint).
    """

    name: str
    table: str
    time_column: str
    keys: tuple[str, ...]
    description: str
    aliases: tuple[str, ...] = ()
    in_order: bool = False
    skip_empty: bool = False


_REQ = ("http_requests", "EdgeStartTimestamp")
ENTITY_KINDS: dict[str, EntityKind] = {
    k.name: k
    for k in (
        EntityKind("ip", *_REQ, ("ClientIP",), "client IP address", ("ClientIP",), True),
        EntityKind("asn", *_REQ, ("ClientASN",), "client autonomous system", ("ClientASN",)),
        EntityKind(
            "ja4",
            *_REQ,
            ("JA4",),
            "JA4 TLS client fingerprint (non-empty)",
            ("JA4",),
            skip_empty=True,
        ),
        EntityKind(
            "ja3",
            *_REQ,
            ("JA3Hash",),
            "JA3 TLS client fingerprint (non-empty)",
            ("JA3Hash",),
            skip_empty=True,
        ),
        EntityKind(
            "user_agent",
            *_REQ,
            ("ClientRequestUserAgent",),
            "user agent string",
            ("ua", "ClientRequestUserAgent"),
        ),
        EntityKind(
            "ip_ua",
            *_REQ,
            ("ClientIP", "ClientRequestUserAgent"),
            "(client IP, user agent) pair",
        ),
        EntityKind(
            "account",
            "auth_events",
            "EventTime",
            ("User",),
            "account (auth_events.User)",
            ("User", "user"),
            True,
        ),
    )
}

#: Entity kinds whose rows are HTTP requests.
REQUEST_KINDS: tuple[str, ...] = tuple(
    k for k, v in ENTITY_KINDS.items() if v.table == "http_requests"
)


def resolve_entity(name: str) -> EntityKind:
    """Return the entity kind for a kind name or one of its aliases (``ip``, ``ClientIP``).

    Parameters
    ----------
    name : str
        Kind name (``ip``, ``asn``, ``ja4``, ``ja3``, ``user_agent``, ``ip_ua``, ``account``)
        or an alias such as the column name.

    Returns
    -------
    EntityKind
        The kind.

    Raises
    ------
    InputError
        When no kind has that name.
    """
    if isinstance(name, EntityKind):
        return name
    for kind in ENTITY_KINDS.values():
        if name == kind.name or name in kind.aliases:
            return kind
    known = ", ".join(f"{k.name} ({'/'.join(k.aliases)})" if k.aliases else k.name
                      for k in ENTITY_KINDS.values())  # fmt: skip
    raise InputError(f"unknown entity {name!r}; known entities: {known}")


def ua_family_sql(column: str) -> str:
    """Return a ClickHouse expression giving the browser-family code of a user-agent column.

    Parameters
    ----------
    column : str
        User-agent column name (checked identifier).

    Returns
    -------
    str
        A ``multiIf(match(...), code, ...)`` expression of type UInt8.
    """
    check_identifier(column)
    arms = [
        f"match({column}, {_sql_string(pattern)}), {UA_FAMILY_CODES[family]}"
        for family, pattern in UA_FAMILY_PATTERNS
    ]
    return f"toUInt8(multiIf({', '.join(arms)}, {UA_FAMILY_CODES['other']}))"


def _sql_string(text: str) -> str:
    """Quote a constant of this module (never user data) as a ClickHouse string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class Feature:
    """One entity feature.

    Attributes
    ----------
    name : str
        Column name in results (a plain identifier, unique in the registry).
    entity : tuple of str
        Entity kinds it applies to (see :data:`ENTITY_KINDS`).
    expression : str
        ClickHouse aggregate expression over the entity's rows; may mention helpers.
    description : str
        Exact definition, matching the pandas reference.
    unit : str
        Unit of the value (``requests``, ``share``, ``seconds`` ...).
    helpers : tuple of str
        Names of the shared sub-expressions (:data:`HELPERS`) the expression needs,
        directly or through other helpers, in dependency order; filled in by the registry.
    """

    name: str
    entity: tuple[str, ...]
    expression: str
    description: str
    unit: str
    helpers: tuple[str, ...] = field(default=(), compare=False)

    def applies_to(self, kind: str | EntityKind) -> bool:
        """Say whether this feature is defined for an entity kind.

        Parameters
        ----------
        kind : str or EntityKind
            Entity kind or alias.

        Returns
        -------
        bool
            True when the feature applies.
        """
        return resolve_entity(kind).name in self.entity

    @property
    def is_count(self) -> bool:
        """Whether the value is an integer count (compared exactly in parity tests)."""
        return self.unit in COUNT_UNITS


#: Units whose values are integers.
COUNT_UNITS = frozenset({"requests", "count", "minutes", "rank", "events"})

_TS = "EdgeStartTimestamp"
_UA = "ClientRequestUserAgent"
_BROWSER_CODES = ", ".join(str(UA_FAMILY_CODES[f]) for f in BROWSER_FAMILIES)


def _window_sql() -> str:
    return f"{_TS} >= {{start:DateTime64(3, 'UTC')}} AND {_TS} < {{end:DateTime64(3, 'UTC')}}"


def _ua_cache_sql() -> str:
    """Scalar subquery: ``(frequent user agents, their family codes)``, a lookup cache.

    The :data:`UA_CACHE_SIZE` most frequent user agents among the first
    :data:`UA_CACHE_SAMPLE_ROWS` rows of the window, classified once. It only saves work:
    user agents outside it are classified by the regexes row by row, with the same result,
    so hostile traffic with a new user agent on every request cannot make it grow.
    Built from this module's constants only; the window bounds are bound as parameters.
    """
    sample = (
        f"SELECT {_UA} AS ua FROM http_requests WHERE {_window_sql()} "  # noqa: S608
        f"LIMIT {UA_CACHE_SAMPLE_ROWS}"
    )
    top = f"SELECT topK({UA_CACHE_SIZE})(ua) AS k FROM ({sample})"  # noqa: S608
    return f"(SELECT (k, arrayMap(u -> {ua_family_sql('u')}, k)) FROM ({top}))"  # noqa: S608


def _ja4_majority_sql() -> str:
    """Scalar subquery: ``(JA4s, majority family codes)`` over the window's requests.

    Grouped by (JA4, family), so its size follows the number of fingerprints only.
    Built from this module's constants only; the window bounds are bound as parameters.
    """
    per_family = (
        "SELECT JA4 AS fp, _ua_family AS fam, count() AS n FROM http_requests "  # noqa: S608
        f"WHERE {_window_sql()} AND JA4 != '' GROUP BY fp, fam"
    )
    majority = f"SELECT fp, argMax(fam, (n, -toInt16(fam))) AS fam FROM ({per_family}) GROUP BY fp"  # noqa: S608
    return f"(SELECT (groupArray(fp), groupArray(fam)) FROM ({majority}))"  # noqa: S608


#: Shared sub-expressions, in dependency order: name to ClickHouse expression.
HELPERS: dict[str, str] = {
    # requests: sorted timestamps (ms since epoch) and what derives from them
    "_ts_ms": f"arraySort(groupArray(toUnixTimestamp64Milli({_TS})))",
    "_gaps_ms": "arrayPopFront(arrayDifference(_ts_ms))",
    "_minutes": "arrayMap(t -> intDiv(t, 60000), _ts_ms)",
    "_gap_mean_s": "if(count() >= 2, (arrayMax(_ts_ms) - arrayMin(_ts_ms)) / 1000 / (count() - 1), nan)",
    "_gap_std_s": (
        "if(count() >= 2, "
        "sqrt(arrayAvg(arrayMap(g -> pow(g / 1000 - _gap_mean_s, 2), _gaps_ms))), nan)"
    ),
    # requests: per-row classifications; the user-agent family is looked up in a cache of
    # frequent user agents (0 when absent) and computed by the regexes otherwise
    "_ua_cache": _ua_cache_sql(),
    "_ua_cached": f"transform({_UA}, _ua_cache.1, _ua_cache.2, toUInt8(0))",
    "_ua_family": f"if(_ua_cached != 0, _ua_cached, {ua_family_sql(_UA)})",
    "_is_asset": f"match(ClientRequestPath, {_sql_string(ASSET_PATTERN)})",
    "_is_login_post": (
        f"ClientRequestMethod = 'POST' AND match(ClientRequestPath, {_sql_string(LOGIN_PATH_PATTERN)})"
    ),
    # the majority browser family of each JA4 in the window, as (JA4s, family codes)
    "_ja4_majority": _ja4_majority_sql(),
    "_ja4_family": "transform(JA4, _ja4_majority.1, _ja4_majority.2, toUInt8(0))",
    # accounts
    "_auth_ts_ms": "arraySort(groupArray(toUnixTimestamp64Milli(EventTime)))",
    # (calendar minutes, events in each): rows weighted by Repeats
    "_auth_minute_events": (
        "sumMap([intDiv(toUnixTimestamp64Milli(EventTime), 60000)], [toUInt64(Repeats)])"
    ),
}

_ALL_REQ = REQUEST_KINDS
_NOT_IP = tuple(k for k in REQUEST_KINDS if k not in ("ip", "ip_ua"))
_NOT_UA = tuple(k for k in REQUEST_KINDS if k not in ("user_agent", "ip_ua"))
_NOT_JA4 = tuple(k for k in REQUEST_KINDS if k != "ja4")
_NOT_JA3 = tuple(k for k in REQUEST_KINDS if k != "ja3")
_NOT_ASN = tuple(k for k in REQUEST_KINDS if k != "asn")
_FINGERPRINTS = ("ja4", "ja3")
_ACCOUNT = ("account",)


def _share(condition: str) -> str:
    return f"countIf({condition}) / count()"


def _f(name: str, entity: tuple[str, ...], expression: str, unit: str, description: str) -> Feature:
    return Feature(name, entity, expression, description, unit)


_FEATURES: tuple[Feature, ...] = (
    # ---- volume and timing --------------------------------------------------------------
    _f("requests", _ALL_REQ, "count()", "requests", "Requests in the window."),
    _f("active_minutes", _ALL_REQ, "toUInt64(length(arrayDistinct(_minutes)))", "minutes",
       "Distinct calendar minutes (UTC) with at least one request."),
    _f("active_span_s", _ALL_REQ, "(arrayMax(_ts_ms) - arrayMin(_ts_ms)) / 1000", "seconds",
       "Seconds from the first to the last request (0 for a single request)."),
    _f("rate_per_minute_mean", _ALL_REQ, "count() / length(arrayDistinct(_minutes))",
       "requests/minute", "Mean requests per active calendar minute: requests / active_minutes."),
    _f("rate_per_minute_peak", _ALL_REQ, "toUInt64(arrayMax(arrayEnumerateUniq(_minutes)))",
       "requests", "Most requests in any one calendar minute."),
    _f("interarrival_mean_s", _ALL_REQ, "_gap_mean_s", "seconds",
       "Mean inter-arrival gap: (last - first) / (requests - 1); NaN below 2 requests."),
    _f("interarrival_std_s", _ALL_REQ, "_gap_std_s", "seconds",
       "Population standard deviation (ddof=0) of the inter-arrival gaps; NaN below 2 requests."),
    _f("interarrival_cv", _ALL_REQ, "_gap_std_s / _gap_mean_s", "ratio",
       "Coefficient of variation of the gaps: std / mean; NaN below 2 requests or when all "
       "requests share one timestamp."),
    _f("burst_share", _ALL_REQ,
       f"if(count() >= 2, arrayCount(g -> g < {BURST_GAP_MS}, _gaps_ms) / (count() - 1), nan)",
       "share", "Share of requests after the first that arrive less than 1 s after the "
       "entity's previous request: gaps < 1000 ms / (requests - 1); NaN below 2 requests."),
    _f("night_share", _ALL_REQ, _share(f"toHour({_TS}) < {NIGHT_END_HOUR}"), "share",
       "Share of requests between 00:00 and 05:59 UTC."),
    # ---- what was asked for -------------------------------------------------------------
    _f("distinct_paths", _ALL_REQ, "uniqExact(ClientRequestPath)", "count",
       "Distinct request paths (ClientRequestPath, the empty path counted as one)."),
    _f("distinct_hosts", _ALL_REQ, "uniqExact(ClientRequestHost)", "count",
       "Distinct request hosts (ClientRequestHost)."),
    _f("path_entropy_bits", _ALL_REQ, "entropy(ClientRequestPath)", "bits",
       "Shannon entropy in bits of the entity's path distribution: -sum p log2 p over its "
       "distinct paths, p = requests to the path / requests."),
    _f("query_share", _ALL_REQ, _share("ClientRequestQuery != ''"), "share",
       "Share of requests with a non-empty query string."),
    _f("post_share", _ALL_REQ, _share("ClientRequestMethod = 'POST'"), "share",
       "Share of POST requests."),
    _f("login_post_share", _ALL_REQ, _share("_is_login_post"), "share",
       f"Share of POST requests whose path matches {LOGIN_PATH_PATTERN} (anywhere in the path)."),
    _f("asset_share", _ALL_REQ, _share("_is_asset"), "share",
       "Share of requests for assets: path ending (case-insensitive) in ."
       + ", .".join(ASSET_EXTENSIONS) + "."),
    _f("page_asset_ratio", _ALL_REQ,
       "countIf(ClientRequestMethod = 'GET' AND NOT _is_asset) / (countIf(_is_asset) + 1)",
       "ratio", "Page GETs (GET of a non-asset path) / (asset requests + 1)."),
    _f("referer_share", _ALL_REQ, _share("ClientRequestReferer != ''"), "share",
       "Share of requests with a non-empty Referer."),
    _f("request_bytes_mean", _ALL_REQ, "avg(ClientRequestBytes)", "bytes",
       "Mean request size (ClientRequestBytes)."),
    _f("response_bytes_mean", _ALL_REQ, "avg(EdgeResponseBytes)", "bytes",
       "Mean response size (EdgeResponseBytes)."),
    _f("header_count_mean", _ALL_REQ, "avg(length(RequestHeaders))", "headers",
       "Mean number of request headers: length(RequestHeaders)."),
    # ---- how it was answered ------------------------------------------------------------
    _f("status_2xx_share", _ALL_REQ, _share("EdgeResponseStatus BETWEEN 200 AND 299"), "share",
       "Share of requests answered 200-299 (EdgeResponseStatus)."),
    _f("status_3xx_share", _ALL_REQ, _share("EdgeResponseStatus BETWEEN 300 AND 399"), "share",
       "Share of requests answered 300-399."),
    _f("status_4xx_share", _ALL_REQ, _share("EdgeResponseStatus BETWEEN 400 AND 499"), "share",
       "Share of requests answered 400-499."),
    _f("status_5xx_share", _ALL_REQ, _share("EdgeResponseStatus BETWEEN 500 AND 599"), "share",
       "Share of requests answered 500-599."),
    _f("status_401_share", _ALL_REQ, _share("EdgeResponseStatus = 401"), "share",
       "Share of requests answered 401 Unauthorized."),
    _f("status_403_share", _ALL_REQ, _share("EdgeResponseStatus = 403"), "share",
       "Share of requests answered 403 Forbidden."),
    _f("status_429_share", _ALL_REQ, _share("EdgeResponseStatus = 429"), "share",
       "Share of requests answered 429 Too Many Requests."),
    # ---- who is asking ------------------------------------------------------------------
    _f("distinct_ips", _NOT_IP, "uniqExact(ClientIP)", "count", "Distinct client IPs."),
    _f("distinct_user_agents", _NOT_UA, f"uniqExact({_UA})", "count",
       "Distinct user-agent strings (the empty one counted as one)."),
    _f("distinct_ja4", _NOT_JA4, "uniqExactIf(JA4, JA4 != '')", "count",
       "Distinct non-empty JA4 fingerprints."),
    _f("distinct_ja3", _NOT_JA3, "uniqExactIf(JA3Hash, JA3Hash != '')", "count",
       "Distinct non-empty JA3 fingerprints."),
    _f("distinct_asns", _NOT_ASN, "uniqExactIf(ClientASN, ClientASN != 0)", "count",
       "Distinct non-zero client ASNs."),
    _f("distinct_countries", _ALL_REQ, "uniqExactIf(ClientCountry, ClientCountry != '')", "count",
       "Distinct non-empty client countries."),
    _f("empty_ua_share", _NOT_UA, _share(f"{_UA} = ''"), "share",
       "Share of requests without a user agent."),
    _f("browser_ua_share", _ALL_REQ, _share(f"_ua_family IN ({_BROWSER_CODES})"), "share",
       "Browser-like share: requests whose user-agent family is chrome, firefox, safari or edge."),
    _f("bot_ua_share", _ALL_REQ, _share(f"_ua_family = {UA_FAMILY_CODES['bot']}"), "share",
       "Share of requests whose user agent names a bot, crawler or HTTP library."),
    _f("ua_ja4_consistency", _ALL_REQ,
       "countIf(JA4 != '' AND _ua_family = _ja4_family) / countIf(JA4 != '')", "share",
       "Among requests with a JA4: share whose user-agent browser family equals the majority "
       "family of that JA4 across all traffic in the window; NaN when none has a JA4."),
    # ---- per-fingerprint signals (JA4-signal style), ranked across the window ------------
    _f("ip_rank", _FINGERPRINTS, "rank() OVER (ORDER BY uniqExact(ClientIP) DESC)", "rank",
       "Rank of the fingerprint by distinct IPs among all fingerprints in the window "
       "(1 = most; ties share the lowest rank)."),
    _f("ua_rank", _FINGERPRINTS, f"rank() OVER (ORDER BY uniqExact({_UA}) DESC)", "rank",
       "Rank by distinct user agents (1 = most; ties share the lowest rank)."),
    _f("path_rank", _FINGERPRINTS, "rank() OVER (ORDER BY uniqExact(ClientRequestPath) DESC)",
       "rank", "Rank by distinct paths (1 = most; ties share the lowest rank)."),
    _f("volume_quantile", _FINGERPRINTS, "cume_dist() OVER (ORDER BY count())", "quantile",
       "Request-volume quantile: share of fingerprints with at most this many requests."),
    # ---- accounts (auth_events) -----------------------------------------------------------
    # counts of events weight each row by Repeats: syslog folds identical lines into one
    # "message repeated N times" row (Repeats = N); distinct counts count values, not rows
    _f("auth_events", _ACCOUNT, "sum(Repeats)", "events",
       "Authentication events in the window (a folded syslog line counts Repeats times)."),
    _f("auth_failures", _ACCOUNT, "sumIf(Repeats, Success = 0)", "events",
       "Failed events (Success = 0), a folded syslog line counting Repeats times."),
    _f("auth_failure_share", _ACCOUNT, "sumIf(Repeats, Success = 0) / sum(Repeats)", "share",
       "Share of failed events (weighted by Repeats)."),
    _f("auth_invalid_user_share", _ACCOUNT, "sumIf(Repeats, UserValid = 0) / sum(Repeats)", "share",
       "Share of events naming a user that does not exist (UserValid = 0; weighted by Repeats)."),
    _f("auth_distinct_source_ips", _ACCOUNT, "uniqExactIf(SourceIP, SourceIP != '')", "count",
       "Distinct non-empty source IPs."),
    _f("auth_distinct_failed_ips", _ACCOUNT,
       "uniqExactIf(SourceIP, SourceIP != '' AND Success = 0)", "count",
       "Distinct non-empty source IPs with at least one failure."),
    _f("auth_distinct_countries", _ACCOUNT,
       "uniqExactIf(SourceCountry, SourceCountry != '')", "count",
       "Distinct non-empty source countries."),
    _f("auth_distinct_asns", _ACCOUNT, "uniqExactIf(SourceASN, SourceASN != 0)", "count",
       "Distinct non-zero source ASNs."),
    _f("auth_distinct_devices", _ACCOUNT, "uniqExactIf(Device, Device != '')", "count",
       "Distinct non-empty devices."),
    _f("auth_distinct_hosts", _ACCOUNT, "uniqExactIf(Host, Host != '')", "count",
       "Distinct non-empty hosts authenticated to."),
    _f("auth_distinct_methods", _ACCOUNT, "uniqExactIf(AuthMethod, AuthMethod != '')", "count",
       "Distinct non-empty authentication methods."),
    _f("auth_night_share", _ACCOUNT,
       f"sumIf(Repeats, toHour(EventTime) < {NIGHT_END_HOUR}) / sum(Repeats)", "share",
       "Share of events between 00:00 and 05:59 UTC (weighted by Repeats)."),
    _f("auth_peak_per_minute", _ACCOUNT, "toUInt64(arrayMax(_auth_minute_events.2))", "events",
       "Most events in any one calendar minute (a folded syslog line counts Repeats times, "
       "in the minute it was logged)."),
    _f("auth_active_span_s", _ACCOUNT, "(arrayMax(_auth_ts_ms) - arrayMin(_auth_ts_ms)) / 1000",
       "seconds", "Seconds from the first to the last event."),
)  # fmt: skip


def _with_helpers(feature: Feature) -> Feature:
    """Fill in the helpers a feature needs, transitively, in dependency order."""
    needed: set[str] = set()
    pending = [feature.expression]
    while pending:
        text = pending.pop()
        for name, expression in HELPERS.items():
            if name not in needed and re.search(rf"\b{name}\b", text):
                needed.add(name)
                pending.append(expression)
    ordered = tuple(name for name in HELPERS if name in needed)
    return Feature(feature.name, feature.entity, feature.expression, feature.description,
                   feature.unit, ordered)  # fmt: skip


FEATURES: dict[str, Feature] = {f.name: _with_helpers(f) for f in _FEATURES}


def _check_registry() -> None:
    if len(FEATURES) != len(_FEATURES):
        raise AssertionError("duplicate feature names in the registry")
    for feature in FEATURES.values():
        check_identifier(feature.name)
        unknown = set(feature.entity) - set(ENTITY_KINDS)
        if unknown:
            raise AssertionError(f"{feature.name}: unknown entity kinds {sorted(unknown)}")


_check_registry()


def features_for(entity: str | EntityKind, names: list[str] | None = None) -> list[Feature]:
    """Return the features of an entity kind, in registry order, optionally a chosen subset.

    Parameters
    ----------
    entity : str or EntityKind
        Entity kind or alias.
    names : list of str, optional
        Feature names to keep (order is the registry's); all applicable ones when omitted.

    Returns
    -------
    list of Feature
        The features.

    Raises
    ------
    InputError
        When a name is unknown or does not apply to the entity, or the list is empty.
    """
    kind = resolve_entity(entity)
    if names is None:
        return [f for f in FEATURES.values() if kind.name in f.entity]
    if not names:
        raise InputError("the feature list is empty")
    wanted = list(dict.fromkeys(names))
    for name in wanted:
        if name not in FEATURES:
            raise InputError(f"unknown feature {name!r}; `wb features list` shows them")
        if kind.name not in FEATURES[name].entity:
            raise InputError(
                f"feature {name!r} does not apply to entity {kind.name!r} "
                f"(it applies to: {', '.join(FEATURES[name].entity)})"
            )
    return [f for f in FEATURES.values() if f.name in wanted]
