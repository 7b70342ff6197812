"""The feature registry and the SQL generated from it."""

from __future__ import annotations

import re

import pytest

from tests.features.reference import ua_family
from tests.features.traffic import CHROME, EDGE, FIREFOX, HOSTILE_UA, PYTHON, SAFARI
from workbench.errors import InputError
from workbench.features import (
    ENTITY_KINDS,
    FEATURES,
    entity_features_sql,
    features_for,
    resolve_entity,
)
from workbench.features.registry import (
    HELPERS,
    REQUEST_KINDS,
    UA_FAMILY_CODES,
    ua_family_sql,
)
from workbench.store.params import placeholders

# Features the issue asks for by name (our registry names).
REQUIRED = [
    "requests", "rate_per_minute_mean", "rate_per_minute_peak", "distinct_paths",
    "distinct_hosts", "path_entropy_bits", "query_share", "interarrival_mean_s",
    "interarrival_std_s", "interarrival_cv", "burst_share", "status_2xx_share",
    "status_3xx_share", "status_4xx_share", "status_5xx_share", "status_401_share",
    "status_403_share", "status_429_share", "login_post_share", "asset_share",
    "page_asset_ratio", "referer_share", "distinct_user_agents", "distinct_ja4",
    "ua_ja4_consistency", "header_count_mean", "night_share", "distinct_countries",
    "ip_rank", "ua_rank", "path_rank", "volume_quantile", "browser_ua_share",
]  # fmt: skip


def test_required_features_exist_with_definitions():
    for name in REQUIRED:
        assert name in FEATURES, name
    for f in FEATURES.values():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", f.name)
        assert f.description.endswith(".") and len(f.description) > 15, f.name
        assert f.unit and f.entity


@pytest.mark.parametrize("kind", REQUEST_KINDS)
def test_every_request_entity_has_at_least_25_features(kind):
    assert len(features_for(kind)) >= 25


def test_account_features():
    names = [f.name for f in features_for("account")]
    assert len(names) >= 10
    assert all(n.startswith("auth_") for n in names)
    assert not set(names) & {f.name for f in features_for("ip")}


def test_fingerprint_signals_only_for_fingerprints():
    assert FEATURES["ip_rank"].entity == ("ja4", "ja3")
    assert not FEATURES["distinct_ips"].applies_to("ClientIP")
    assert FEATURES["distinct_user_agents"].applies_to("ip")
    assert not FEATURES["distinct_user_agents"].applies_to("ip_ua")


def test_aliases_resolve():
    assert resolve_entity("ClientIP").name == "ip"
    assert resolve_entity("JA3Hash").name == "ja3"
    assert resolve_entity("ClientRequestUserAgent").name == "user_agent"
    assert resolve_entity("User").name == "account"
    with pytest.raises(InputError, match="unknown entity 'ClientPort'"):
        resolve_entity("ClientPort")


def test_feature_selection_errors_name_the_problem():
    with pytest.raises(InputError, match="unknown feature 'nope'"):
        features_for("ip", ["requests", "nope"])
    with pytest.raises(InputError, match="'ip_rank' does not apply to entity 'ip'"):
        features_for("ip", ["ip_rank"])
    with pytest.raises(InputError, match="empty"):
        features_for("ip", [])
    # registry order, duplicates dropped
    assert [f.name for f in features_for("ip", ["night_share", "requests", "requests"])] == [
        "requests",
        "night_share",
    ]


@pytest.mark.parametrize("kind", list(ENTITY_KINDS))
def test_sql_is_one_statement_with_bound_window_only(kind):
    sql = entity_features_sql(kind)
    assert ";" not in sql
    assert placeholders(sql) == {"start": "DateTime64(3, 'UTC')", "end": "DateTime64(3, 'UTC')"}
    # one top-level GROUP BY over the entity key, then ORDER BY the same key unless the
    # kind is aggregated in table order (which yields key order by itself)
    keys = ", ".join(ENTITY_KINDS[kind].keys)
    tail = [f"GROUP BY {keys}"] + ([] if ENTITY_KINDS[kind].in_order else [f"ORDER BY {keys}"])
    assert sql.splitlines()[-len(tail) :] == tail
    assert sql.count("\nGROUP BY ") == 1
    assert f"FROM {ENTITY_KINDS[kind].table}\n" in sql
    for f in features_for(kind):
        assert f" AS {f.name}\n" in sql or sql.count(f" AS {f.name},") == 1


def test_only_needed_helpers_are_emitted():
    sql = entity_features_sql("ip", ["requests", "status_4xx_share"])
    assert "WITH" not in sql
    sql = entity_features_sql("ip", ["ua_ja4_consistency"])
    for helper in ("_ua_family", "_ja4_majority", "_ja4_family"):
        assert f" AS {helper}," in sql or f" AS {helper}\n" in sql
    assert "_ts_ms" not in sql
    # helpers come before what uses them
    sql = entity_features_sql("ip", ["interarrival_cv"])
    assert sql.index(" AS _ts_ms") < sql.index(" AS _gaps_ms") < sql.index(" AS _gap_std_s")
    assert set(HELPERS) >= {"_ts_ms", "_gaps_ms", "_gap_mean_s", "_gap_std_s"}


def test_ua_family_regexes_agree_with_python(embedded_store):
    agents = [
        CHROME, FIREFOX, SAFARI, EDGE, PYTHON, HOSTILE_UA, "", "Googlebot/2.1",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4) AppleWebKit/605.1.15 CriOS/124.0 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/124.0 Safari/537.36 OPR/109.0",
        "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/124.0 Safari/537.36",
        "curl/8.0", "Wget/1.21", "okhttp/4.12", "Go-http-client/2.0", "Java/17.0.2",
        "Mozilla/5.0 (iPad) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 FxiOS/125.0",
        "EdgA/124 EdgiOS/1", "no family at all", "\u00c9dge/1 \u0000 '\\",
    ]  # fmt: skip
    got = embedded_store.query_df(
        f"SELECT {ua_family_sql('ua')} AS fam FROM (SELECT arrayJoin({{uas:Array(String)}}) AS ua)",
        {"uas": agents},
    )["fam"].tolist()
    import pandas as pd

    want = ua_family(pd.Series(agents)).tolist()
    assert got == want
    codes = dict(zip(agents, got, strict=True))
    assert codes[CHROME] == UA_FAMILY_CODES["chrome"]
    assert codes[EDGE] == UA_FAMILY_CODES["edge"]
    assert codes[SAFARI] == UA_FAMILY_CODES["safari"]
    assert codes[PYTHON] == UA_FAMILY_CODES["bot"]
    assert codes[""] == UA_FAMILY_CODES["other"]
