"""Labels with provenance: write, read the latest per entity, refuse unknown verdicts."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.errors import InputError
from workbench.labels import (
    ANOMALOUS_VERDICTS,
    NORMAL_VERDICTS,
    normalize_verdict,
    read_labels,
    verdict_target,
    write_labels,
)


def test_vocabulary_matches_detect_and_monitor() -> None:
    from workbench.detect.anomalies import ANOMALOUS_VERDICTS as DETECT_BAD
    from workbench.detect.anomalies import NORMAL_VERDICTS as DETECT_OK
    from workbench.monitor.performance import NEGATIVE_VERDICTS, POSITIVE_VERDICTS

    assert set(DETECT_BAD) <= set(ANOMALOUS_VERDICTS) <= set(DETECT_BAD) | set(POSITIVE_VERDICTS)
    assert set(DETECT_OK) <= set(NORMAL_VERDICTS) <= set(DETECT_OK) | set(NEGATIVE_VERDICTS)
    assert not set(ANOMALOUS_VERDICTS) & set(NORMAL_VERDICTS)
    assert normalize_verdict(" Bad_Bot ") == "bad_bot"
    assert verdict_target(["human", "MALICIOUS", "benign"]).tolist() == [0, 1, 0]
    with pytest.raises(InputError, match="unknown verdict 'evil'"):
        normalize_verdict("evil")


def test_write_and_read_latest(store) -> None:
    write_labels(
        store, ["10.0.0.1", "10.0.0.2"], ["bad_bot", "human"], "ann", "test",
        times=["2026-11-01T10:00:00Z", "2026-11-01T10:00:00Z"], notes=["<b>x</b>", ""],
        model="bot-ip",
    )  # fmt: skip
    write_labels(store, ["10.0.0.1"], ["benign"], "bob", "csv", times="2026-11-02T09:00:00")
    everything = read_labels(store, latest=False)
    mine = everything[everything["Entity"].isin(["10.0.0.1", "10.0.0.2"])]
    assert len(mine) == 3
    latest = read_labels(store)
    latest = latest[latest["Entity"].isin(["10.0.0.1", "10.0.0.2"])].set_index("Entity")
    assert latest.loc["10.0.0.1", "Verdict"] == "benign"
    assert latest.loc["10.0.0.1", "Analyst"] == "bob"
    assert latest.loc["10.0.0.1", "Source"] == "csv"
    assert latest.loc["10.0.0.1", "y"] == 0
    assert latest.loc["10.0.0.2", "y"] == 0
    assert latest.loc["10.0.0.1", "LabelTime"] == pd.Timestamp("2026-11-02T09:00:00Z")
    first = mine[mine["Analyst"] == "ann"].set_index("Entity")
    assert first.loc["10.0.0.1", "Model"] == "bot-ip"
    assert first.loc["10.0.0.1", "Note"] == "<b>x</b>"
    assert first.loc["10.0.0.1", "EntityType"] == "ip"
    assert read_labels(store, analyst="bob")["Entity"].tolist() == ["10.0.0.1"]
    assert read_labels(store, entity_type="ja4").empty


def test_hostile_entity_is_stored_verbatim(store) -> None:
    hostile = "1.1.1.1' OR 1=1 --{x:String}\\"
    write_labels(store, [hostile], ["attack"], "ann", "test")
    got = read_labels(store)
    assert (got["Entity"] == hostile).sum() == 1
    assert got.loc[got["Entity"] == hostile, "y"].item() == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"verdicts": ["meh"]}, "unknown verdict"),
        ({"entities": [" "]}, "entity is empty"),
        ({"analyst": ""}, "analyst"),
        ({"verdicts": ["bad", "good"]}, "2 verdicts for 1 entities"),
        ({"times": ["not a time"]}, "time"),
        ({"source": " "}, "source"),
    ],
)
def test_bad_labels_refused(embedded_store, kwargs, message) -> None:
    args = {"entities": ["9.9.9.9"], "verdicts": ["bad"], "analyst": "ann", "source": "t"}
    args.update(kwargs)
    before = len(read_labels(embedded_store, latest=False))
    with pytest.raises(InputError, match=message):
        write_labels(embedded_store, **args)
    assert len(read_labels(embedded_store, latest=False)) == before
