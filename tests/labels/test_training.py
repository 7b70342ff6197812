"""Analyst labels joined to entity features for training."""

from __future__ import annotations

import pytest

from workbench.errors import InputError
from workbench.labels import labelled_entity_frame, write_labels


def test_labels_join_features(embedded_store) -> None:
    from workbench.synth import write_traffic

    with pytest.raises(InputError, match="no ip labels yet"):
        labelled_entity_frame(embedded_store, "2026-11-01", "2026-11-02")
    write_traffic(embedded_store, 5_000, days=1.0, seed=4, progress=False)
    ips = (
        embedded_store.query_df(
            "SELECT DISTINCT ClientIP FROM http_requests ORDER BY ClientIP LIMIT 3"
        )["ClientIP"]
        .astype(str)
        .tolist()
    )
    write_labels(embedded_store, ips, ["bad_bot", "human", "malicious"], "ann", "test",
                 times="2026-11-03T00:00:00Z")  # fmt: skip
    write_labels(embedded_store, [ips[2]], ["benign"], "bob", "test", times="2026-11-04")
    write_labels(embedded_store, ["203.0.113.250"], ["bad"], "ann", "test")  # not active
    frame = labelled_entity_frame(embedded_store, "2026-11-01", "2026-11-02")
    assert sorted(frame["ClientIP"]) == sorted(ips)
    got = frame.set_index("ClientIP")
    assert got.loc[ips[0], "y"] == 1 and got.loc[ips[1], "y"] == 0
    assert got.loc[ips[2], "Verdict"] == "benign" and got.loc[ips[2], "y"] == 0
    assert got.loc[ips[0], "requests"] > 0
    with pytest.raises(InputError, match="is active"):
        labelled_entity_frame(embedded_store, "2027-01-01", "2027-01-02")
