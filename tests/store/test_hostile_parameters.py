"""Hostile strings bound through a named query return exactly the matching rows, on both backends.

Property-based: hypothesis draws strings with quotes, backslashes, SQL fragments, NUL and other
control bytes, replacement characters from invalid UTF-8, and very long strings.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HOSTILE = [
    "'",
    "\\",
    "\\'",
    "'; DROP TABLE http_requests; --",
    '" OR 1=1 --',
    "{entity:String}",
    "a\x00b",
    "\t\n\r",
    "\\N",
    b"\xff\xfe invalid \xc3\x28 utf-8".decode("utf-8", "replace"),
    "<script>alert(1)</script>",
    "x" * (1 << 20),
    "%27%20OR%201%3D1",
]

hostile_text = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=200),
    st.binary(max_size=64).map(lambda b: b.decode("utf-8", "replace")),
    st.lists(
        st.sampled_from(["'", "\\", ";", "--", "\x00", "DROP TABLE x", "{", "}", "%"]), max_size=30
    ).map("".join),
)


def tables_snapshot(store) -> dict[str, int]:
    df = store.query_df(
        "SELECT name, total_rows FROM system.tables WHERE database = currentDatabase() ORDER BY name"
    )
    return dict(zip(df["name"], df["total_rows"].fillna(0).astype(int), strict=True))


@pytest.fixture(scope="module")
def seeded(store):
    store.command("TRUNCATE TABLE http_requests")
    agents = HOSTILE + ["Mozilla/5.0", "curl/8.0"]
    t0 = dt.datetime(2026, 11, 1)
    rows = pd.DataFrame(
        {
            "RayID": [f"r{i}" for i in range(len(agents) * 2)],
            "EdgeStartTimestamp": [t0 + dt.timedelta(seconds=i) for i in range(len(agents) * 2)],
            "ClientIP": ["192.0.2.1"] * (len(agents) * 2),
            "ClientRequestUserAgent": agents * 2,
        }
    )
    store.insert_df("http_requests", rows)
    return store, rows


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=hostile_text)
def test_hostile_value_matches_exactly_and_changes_nothing(seeded, value):
    store, rows = seeded
    before = tables_snapshot(store)
    found = store.run(
        "requests_for_entity", entity_column="ClientRequestUserAgent", entity=value, limit=100
    )
    expected = rows[rows["ClientRequestUserAgent"] == value]
    assert sorted(found["RayID"]) == sorted(expected["RayID"])
    assert all(found["ClientRequestUserAgent"] == value)
    assert tables_snapshot(store) == before


@pytest.mark.parametrize("value", HOSTILE)
def test_each_listed_hostile_value_finds_its_two_rows(seeded, value):
    store, _ = seeded
    found = store.run("requests_for_entity", entity_column="ClientRequestUserAgent", entity=value)
    assert len(found) == 2
    assert set(found["ClientRequestUserAgent"]) == {value}


@pytest.mark.parametrize("column", ["ClientIP; DROP TABLE x", "a b", "`x`", "1abc", "x'", ""])
def test_identifier_parameters_refuse_anything_but_names(seeded, column):
    store, _ = seeded
    from workbench.errors import InvalidIdentifier

    with pytest.raises(InvalidIdentifier):
        store.run("requests_for_entity", entity_column=column, entity="x")
