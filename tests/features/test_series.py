"""Per-entity time-bucketed series, on both backends."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.features.traffic import CHROME, HOSTILE_UA, PYTHON, T0, make_auth_events, make_requests
from workbench.errors import InputError
from workbench.features import entity_series
from workbench.features.series import parse_bucket


@pytest.fixture(scope="module")
def loaded(store):
    requests = make_requests(seed=3)
    store.insert_df("http_requests", requests)
    store.insert_df("auth_events", make_auth_events())
    return store, store.query_df("SELECT * FROM http_requests")


def _pandas_counts(rows: pd.DataFrame, mask: pd.Series, seconds: int) -> pd.DataFrame:
    sel = rows[mask]
    bucket = sel["EdgeStartTimestamp"].dt.floor(f"{seconds}s")
    status = sel["EdgeResponseStatus"].astype(int)
    return (
        pd.DataFrame({"bucket": bucket, "n": 1, "s4": status.between(400, 499).astype(int)})
        .groupby("bucket")[["n", "s4"]]
        .sum()
    )


@pytest.mark.parametrize("bucket, seconds", [("1m", 60), ("5m", 300), ("60m", 3600)])
def test_series_counts_match_pandas(loaded, bucket, seconds):
    store, rows = loaded
    ip = "203.0.113.2"
    start, end = T0, T0 + pd.Timedelta(days=1)
    got = entity_series(store, "ClientIP", ip, start, end, bucket=bucket)
    assert (got["ClientIP"] == ip).all()
    assert len(got) == 86400 // seconds  # zero-filled, one row per bucket
    assert got["bucket"].is_monotonic_increasing
    assert got["bucket"].diff().dropna().eq(pd.Timedelta(seconds=seconds)).all()
    want = _pandas_counts(rows, rows["ClientIP"] == ip, seconds)
    nonzero = got[got["requests"] > 0].set_index("bucket")
    assert nonzero["requests"].to_dict() == want["n"].to_dict()
    assert nonzero["status_4xx"].to_dict() == want["s4"].to_dict()
    assert got["requests"].sum() == (rows["ClientIP"] == ip).sum()
    assert (
        got[["status_2xx", "status_3xx", "status_4xx", "status_5xx"]].sum(axis=1) <= got["requests"]
    ).all()


def test_series_for_pairs_binds_hostile_values(loaded):
    store, rows = loaded
    pairs = [("100.64.0.2", HOSTILE_UA), ("192.0.2.2", PYTHON), ("192.0.2.2", CHROME)]
    got = entity_series(store, "ip_ua", pairs, T0, T0 + pd.Timedelta(days=1), "1h", fill=False)
    totals = got.groupby(["ClientIP", "ClientRequestUserAgent"])["requests"].sum().to_dict()
    for ip, ua in pairs:
        expected = int(((rows["ClientIP"] == ip) & (rows["ClientRequestUserAgent"] == ua)).sum())
        assert totals.get((ip, ua), 0) == expected
    assert totals[("100.64.0.2", HOSTILE_UA)] == 1


def test_series_fill_includes_silent_entities_and_all_traffic(loaded):
    store, rows = loaded
    start, end = T0 + pd.Timedelta(hours=4), T0 + pd.Timedelta(hours=6)
    got = entity_series(store, "asn", [9009, 123456], start, end, "30m")
    assert len(got) == 2 * 4
    assert got.loc[got["ClientASN"] == 123456, "requests"].sum() == 0
    total = entity_series(store, "ip", None, start, end, "1h")
    assert list(total.columns[:2]) == ["bucket", "requests"]
    in_window = rows["EdgeStartTimestamp"].between(start, end, inclusive="left")
    assert total["requests"].sum() == in_window.sum()


def test_account_series(loaded):
    store, _ = loaded
    got = entity_series(store, "account", "admin", T0, T0 + pd.Timedelta(days=1), "1h")
    assert got["events"].sum() == 200 and got["failures"].sum() == 199
    assert got.loc[got["events"] > 0, "bucket"].tolist() == [T0 + pd.Timedelta(hours=2)]
    # syslog-folded rows ("message repeated 7 times", Repeats = 7) count 7 events
    root = entity_series(store, "account", "root", T0, T0 + pd.Timedelta(days=1), "1h")
    root = root.set_index("bucket")
    assert (root["events"].sum(), root["failures"].sum(), root["successes"].sum()) == (26, 25, 1)
    assert root.loc[T0 + pd.Timedelta(hours=4), ["events", "failures", "successes"]].tolist() == [
        23, 22, 1,
    ]  # fmt: skip
    assert root.loc[T0 + pd.Timedelta(hours=9), "events"] == 3
    assert root["distinct_source_ips"].sum() == 2


def test_bucket_parsing_and_errors(loaded):
    assert parse_bucket("1m") == 60 and parse_bucket("5m") == 300 and parse_bucket("1h") == 3600
    assert parse_bucket("60m") == 3600 and parse_bucket(30) == 30 and parse_bucket("1d") == 86400
    for bad in ("0m", "5 weeks", "", "-1m", "8d", True):
        with pytest.raises(InputError):
            parse_bucket(bad)
    store, _ = loaded
    with pytest.raises(InputError, match="keyed by"):
        entity_series(store, "ip_ua", ["1.2.3.4"], T0, T0 + pd.Timedelta(hours=1))
    with pytest.raises(InputError, match="before end"):
        entity_series(store, "ip", "1.2.3.4", T0, T0)
    with pytest.raises(InputError, match="too many rows"):
        entity_series(store, "ip", "1.2.3.4", "2000-01-01", "2030-01-01", "1s")
