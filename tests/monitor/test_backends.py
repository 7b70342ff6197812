"""The whole drift report on both backends: the same numbers from chDB and over HTTP."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from workbench.monitor import drift_report, monitoring_history, write_monitoring
from workbench.synth import write_traffic

DAY1 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
DAY2, DAY3 = DAY1 + dt.timedelta(days=1), DAY1 + dt.timedelta(days=2)


def _load(store) -> None:
    write_traffic(store, 6_000, days=2, seed=9, start=DAY1, progress=False)
    store.command(
        "INSERT INTO scores (RayID, EntityType, Entity, EventTime, Model, Version, Probability, "
        "Score) SELECT RayID, 'request', ClientIP, EdgeStartTimestamp, 'm', '1', p, "
        "toUInt8(1 + round(98 * (1 - p))) FROM (SELECT *, if(label = 'human', 0.2, 0.8) "
        "* ((cityHash64(RayID) % 1000) / 1000) AS p FROM http_requests)"
    )


@pytest.fixture(scope="module")
def both(embedded_store, server_store):
    for store in (embedded_store, server_store):
        _load(store)
    return embedded_store, server_store


@pytest.mark.parametrize("entity", ["ip", "ja4"])
def test_drift_report_is_identical_on_both_backends(both, entity):
    embedded, server = both
    reports = [
        drift_report(store, (DAY1, DAY2), (DAY2, DAY3), entity=entity, weight="requests")
        for store in (embedded, server)
    ]
    a, b = (r.results.drop(columns=["details"]) for r in reports)
    assert len(a) > 20 and set(a["group"]) == {f"{entity} features", "requests", "scores of m 1"}
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9)
    for x, y in zip(reports[0].results["details"], reports[1].results["details"], strict=True):
        assert x.keys() == y.keys() and x.get("categories") == y.get("categories")
        for key in ("edges", "reference", "current"):
            if key in x:
                np.testing.assert_allclose(np.array(x[key], float), np.array(y[key], float))


def test_results_round_trip_through_the_monitoring_table(store):
    _load(store)
    report = drift_report(store, (DAY1, DAY2), (DAY2, DAY3), features=["requests", "burst_share"])
    rows = write_monitoring(store, report)
    assert rows == 4 * len(report.results)
    kept = monitoring_history(store, kind="drift")
    kept = kept[kept["RunID"] == report.run_id]
    assert len(kept) == rows
    psi = kept[kept["Metric"] == "psi"].set_index(["Scope", "Subject"])["Value"]
    expected = report.results.set_index(["group", "subject"])["psi"]
    for key, value in expected.items():
        assert psi.loc[key] == pytest.approx(value)
    assert set(kept["EntityType"]) == {"ip", ""}
    assert (kept.loc[kept["Scope"] == "scores of m 1", "Model"] == "m").all()
    details = store.query_df(
        "SELECT Details FROM monitoring WHERE RunID = {run:String} AND Metric = 'psi' "
        "AND Subject = 'country'",
        {"run": report.run_id},
    )["Details"].iloc[0]
    assert '"categories"' in details and '"reference"' in details
