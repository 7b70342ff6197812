"""The labelling widget: evidence escaped, one labels row per click with Source='widget'."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.errors import InputError
from workbench.labels import read_labels
from workbench.labels.widget import LabelWidget


def _queue() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rank": [1, 2, 3],
            "ClientIP": ["40.0.0.1", "40.0.0.2", "<script>alert(1)</script>"],
            "probability": [0.51, 0.48, 0.5],
            "score": [49, 52, 50],
            "requests": [120, 3, 7],
            "top_user_agent": ["<img src=x onerror=alert(1)>", "Mozilla", "curl"],
        }
    )


def test_buttons_write_labels_with_provenance(embedded_store) -> None:
    w = LabelWidget(embedded_store, _queue(), analyst="ann", model="bot-ip")
    assert "40.0.0.1" in w.evidence.value and "<img" not in w.evidence.value
    assert "&lt;img src=x" in w.evidence.value and "0.51" in w.evidence.value
    by_name = {b.description: b for b in w.buttons}
    w.note.value = "fast scraper"
    by_name["bad_bot"].click()
    assert w.position == 1 and w.note.value == ""
    w.skip_button.click()
    assert w.position == 2
    assert "&lt;script&gt;" in w.evidence.value and "<script>" not in w.evidence.value
    by_name["human"].click()
    assert w.done and all(b.disabled for b in w.buttons)
    with pytest.raises(InputError, match="finished"):
        w.label_current("human")
    got = read_labels(embedded_store, latest=False)
    got = got[got["Entity"].isin(_queue()["ClientIP"])].set_index("Entity")
    assert len(got) == 2 and "40.0.0.2" not in got.index
    first = got.loc["40.0.0.1"]
    assert (first["Verdict"], first["Analyst"], first["Source"]) == ("bad_bot", "ann", "widget")
    assert (first["Model"], first["Note"]) == ("bot-ip", "fast scraper")
    assert got.loc["<script>alert(1)</script>", "Verdict"] == "human"
    assert len(w.written) == 2


def test_widget_refuses_bad_setup(embedded_store) -> None:
    with pytest.raises(InputError, match="no 'ip' column"):
        LabelWidget(embedded_store, _queue(), analyst="ann", entity_column="ip")
    with pytest.raises(InputError, match="analyst"):
        LabelWidget(embedded_store, _queue(), analyst=" ")
    with pytest.raises(InputError, match="unknown verdict"):
        LabelWidget(embedded_store, _queue(), analyst="ann", verdicts=["maybe"])
