"""ClickHouse entity features agree with the pandas reference, on both store backends."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.features.reference import KEYS, reference_features
from tests.features.traffic import T0, make_auth_events, make_requests
from workbench.features import (
    FEATURES,
    build_entity_features,
    entity_features_sql,
    features_for,
    resolve_entity,
    stream_entity_features,
    write_entity_features,
)
from workbench.features.entity import query_settings
from workbench.features.registry import HELPERS

START, END = T0, T0 + pd.Timedelta(days=1)
ENTITIES = ["ip", "asn", "ja4", "ja3", "user_agent", "ip_ua", "account"]


@pytest.fixture(scope="module")
def loaded(store):
    """The fixture traffic, inserted once per backend, read back as the store holds it."""
    store.insert_df("http_requests", make_requests())
    store.insert_df("auth_events", make_auth_events())
    requests = store.query_df("SELECT * FROM http_requests")
    events = store.query_df("SELECT * FROM auth_events")
    return store, requests, events


def assert_parity(ours: pd.DataFrame, ref: pd.DataFrame, entity: str) -> None:
    keys = KEYS[entity]
    names = [f.name for f in features_for(entity)]
    assert list(ours.columns) == keys + names
    assert len(ours) == len(ref) > 0
    ours = ours.sort_values(keys, kind="stable").reset_index(drop=True)
    ref = ref.sort_values(keys, kind="stable").reset_index(drop=True)
    for key in keys:
        assert ours[key].astype(str).tolist() == ref[key].astype(str).tolist(), key
    for name in names:
        got, want = ours[name], ref[name]
        if FEATURES[name].is_count:
            assert pd.api.types.is_integer_dtype(got), f"{name} is {got.dtype}, not integer"
            assert want.notna().all(), name
            np.testing.assert_array_equal(got.to_numpy(), want.astype("int64").to_numpy(), name)
        else:
            np.testing.assert_allclose(
                got.to_numpy(dtype=float),
                want.to_numpy(dtype=float),
                rtol=1e-9,
                atol=1e-9,
                equal_nan=True,
                err_msg=name,
            )


@pytest.mark.parametrize("entity", ENTITIES)
def test_features_match_pandas_reference(loaded, entity):
    store, requests, events = loaded
    ours = build_entity_features(store, entity, START, END)
    ref = reference_features(events if entity == "account" else requests, entity, START, END)
    assert_parity(ours, ref, entity)


def test_fixture_exercises_the_definitions(loaded):
    """Guard against a parity test that passes on degenerate data."""
    store, _, _ = loaded
    ip = build_entity_features(store, "ip", START, END).set_index("ClientIP")
    assert ip["interarrival_std_s"].notna().sum() > 50
    assert ip["interarrival_mean_s"].isna().sum() >= 3  # single-request IPs
    assert (ip["burst_share"] > 0).any() and (ip["burst_share"] < 1).any()
    assert ip["login_post_share"].max() == 1.0
    assert ip.loc["172.16.0.1", "distinct_user_agents"] == 4
    assert ip.loc["172.16.0.1", "distinct_countries"] == 2  # one third has no country
    assert ip.loc["100.64.0.1", "ua_ja4_consistency"] != ip.loc["100.64.0.1", "ua_ja4_consistency"]
    # spoofers claim Chrome on Python's TLS stack: inconsistent
    assert ip.loc["198.51.100.1", "ua_ja4_consistency"] == 0.0
    assert ip.loc["198.51.100.1", "browser_ua_share"] == 1.0
    # the request at END is outside the window
    assert (
        "/late"
        not in store.query_df(
            "SELECT ClientRequestPath FROM http_requests WHERE EdgeStartTimestamp < {e:DateTime64(3)}",
            {"e": END},
        )["ClientRequestPath"].tolist()
    )
    assert ip.loc["10.0.0.1", "requests"] == (
        store.query_df("SELECT count() AS n FROM http_requests WHERE ClientIP = '10.0.0.1'")[
            "n"
        ].iloc[0]
        - 1
    )
    ja4 = build_entity_features(store, "ja4", START, END)
    assert "" not in ja4["JA4"].tolist()
    assert sorted(ja4["ip_rank"].tolist())[0] == 1


def test_account_counts_weight_folded_syslog_lines(loaded):
    """Rows folded by syslog ("message repeated 7 times", Repeats = 7) count 7 events."""
    store, _, events = loaded
    root = events[events["User"] == "root"]
    assert len(root) == 6 and root["Repeats"].tolist().count(7) == 3
    got = build_entity_features(store, "account", START, END).set_index("User").loc["root"]
    assert got["auth_events"] == 7 + 7 + 7 + 1 + 1 + 3 == 26  # 6 rows
    assert got["auth_failures"] == 25  # 5 rows
    assert got["auth_failure_share"] == pytest.approx(25 / 26)
    assert got["auth_invalid_user_share"] == 0.0
    assert got["auth_night_share"] == pytest.approx(23 / 26)  # the 09:00 row stands for 3
    assert got["auth_peak_per_minute"] == 14  # 04:00 holds two rows of 7
    # distinct counts stay counts of values
    assert got["auth_distinct_source_ips"] == 2 and got["auth_distinct_failed_ips"] == 2
    assert got["auth_active_span_s"] == 300 * 60
    # the brute-forced admin: 200 rows of one event each
    admin = build_entity_features(store, "account", START, END).set_index("User").loc["admin"]
    assert admin["auth_events"] == 200 and admin["auth_failures"] == 199


def test_window_excludes_rows_outside(loaded):
    store, requests, _ = loaded
    start, end = T0 + pd.Timedelta(hours=4), T0 + pd.Timedelta(hours=5)
    ours = build_entity_features(store, "ip", start, end)
    ref = reference_features(requests, "ip", start, end)
    assert 0 < len(ours) < requests["ClientIP"].nunique()
    assert_parity(ours, ref, "ip")


def test_empty_window_gives_no_rows_with_all_columns(loaded):
    store, _, _ = loaded
    out = build_entity_features(store, "ja4", "2030-01-01", "2030-01-02")
    assert len(out) == 0
    assert list(out.columns) == ["JA4"] + [f.name for f in features_for("ja4")]


@pytest.mark.parametrize("entity", ["ip", "ja4"])
def test_streamed_file_equals_the_frame(loaded, entity, tmp_path):
    store, _, _ = loaded
    direct = build_entity_features(store, entity, START, END)
    out = tmp_path / f"{entity}.parquet"
    assert write_entity_features(store, entity, START, END, out) == len(direct)
    pd.testing.assert_frame_equal(pd.read_parquet(out), direct)
    with stream_entity_features(store, entity, START, END, ["requests"], batch_rows=16) as it:
        batches = list(it)
    assert sum(b.num_rows for b in batches) == len(direct)
    assert batches[0].schema.names == [*KEYS[entity], "requests"]


def test_settings_can_be_overridden(loaded):
    store, _, _ = loaded
    assert query_settings(resolve_entity("ip"))["optimize_aggregation_in_order"] == 1
    assert query_settings(resolve_entity("ja4")) == {}
    a = build_entity_features(store, "ip", START, END, ["requests", "distinct_paths"])
    b = build_entity_features(
        store, "ip", START, END, ["requests", "distinct_paths"],
        settings={"optimize_aggregation_in_order": 0, "max_threads": 2},
    )  # fmt: skip
    pd.testing.assert_frame_equal(a, b)


def test_user_agent_cache_only_saves_work(loaded):
    """Without the frequent-user-agent cache every row takes the regexes: same results."""
    store, _, _ = loaded
    names = ["browser_ua_share", "bot_ua_share", "ua_ja4_consistency"]
    sql = entity_features_sql("ip_ua", names)
    no_cache = sql.replace(
        HELPERS["_ua_cache"], "(CAST([], 'Array(String)'), CAST([], 'Array(UInt8)'))"
    )
    assert no_cache != sql
    params = {"start": START, "end": END}
    cached = store.query_df(sql, params)
    uncached = store.query_df(no_cache, params)
    pd.testing.assert_frame_equal(cached, uncached)
    assert cached["bot_ua_share"].between(0, 1).all() and (cached["bot_ua_share"] > 0).any()
