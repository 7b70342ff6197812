"""Parity with the pandas reference on the committed ``data_samples`` (both backends).

The reference is computed once per entity from the rows as the store returns them and
compared with each backend's ClickHouse result.
"""

from __future__ import annotations

import pandas as pd
import pytest

from tests.features.reference import reference_features
from tests.features.test_parity import ENTITIES, assert_parity
from workbench.features import build_entity_features
from workbench.samples import SAMPLES_DIR, load_samples

pytestmark = pytest.mark.slow

_REFERENCE: dict[str, pd.DataFrame] = {}


@pytest.fixture(scope="module")
def samples(store):
    if not (SAMPLES_DIR / "http_requests.parquet").is_file():
        pytest.skip("data_samples/ not generated (make samples)")
    load_samples(store)
    requests = store.query_df("SELECT * EXCEPT (RequestBody) FROM http_requests")
    events = store.query_df("SELECT * FROM auth_events")
    windows = {
        "http_requests": (
            requests["EdgeStartTimestamp"].min(),
            requests["EdgeStartTimestamp"].max(),
        ),
        "auth_events": (events["EventTime"].min(), events["EventTime"].max()),
    }
    return store, requests, events, windows


@pytest.mark.parametrize("entity", ENTITIES)
def test_samples_match_pandas_reference(samples, entity):
    store, requests, events, windows = samples
    rows = events if entity == "account" else requests
    lo, hi = windows["auth_events" if entity == "account" else "http_requests"]
    # a window that cuts the data: the first hour is left out, the last row is kept
    start, end = lo + pd.Timedelta(hours=1), hi + pd.Timedelta(milliseconds=1)
    if entity not in _REFERENCE:
        _REFERENCE[entity] = reference_features(rows, entity, start, end)
    ours = build_entity_features(store, entity, start, end)
    assert len(ours) > 10
    assert_parity(ours, _REFERENCE[entity], entity)


def test_samples_without_repeats_load_with_the_default(samples):
    """The committed auth sample has no ``Repeats`` column: every row gets the DEFAULT 1."""
    import pyarrow.parquet as pq

    store, _, events, _ = samples
    assert "Repeats" not in pq.read_schema(SAMPLES_DIR / "auth_events.parquet").names
    assert len(events) > 1000 and (events["Repeats"] == 1).all()
    counts = store.query_df("SELECT count() AS rows, sum(Repeats) AS events FROM auth_events")
    assert counts["rows"].iloc[0] == counts["events"].iloc[0] == len(events)
