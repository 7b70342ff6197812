"""What notebooks record for their runner: headline numbers, context, sensitive values."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from workbench.errors import InputError
from workbench.reporting import note_sensitive, read_record, record, record_context
from workbench.reporting.record import RECORD_ENV


def test_outside_a_run_values_are_only_checked(monkeypatch, tmp_path):
    monkeypatch.delenv(RECORD_ENV, raising=False)
    assert record(requests=np.int64(5), share=np.float64(0.5)) == {"requests": 5, "share": 0.5}
    assert list(tmp_path.iterdir()) == []


def test_values_merge_into_the_side_file(monkeypatch, tmp_path):
    side = tmp_path / "record.json"
    monkeypatch.setenv(RECORD_ENV, str(side))
    record(requests=10, top_country="US")
    record(requests=12, ok=True, missing=float("nan"))
    record_context(model_version="charcnn (content abc)",
                   data_first=pd.Timestamp("2026-11-01 00:00", tz="UTC"),
                   data_last=dt.datetime(2026, 11, 1, 23, 59))  # fmt: skip
    assert note_sensitive(["alice", "bob", "", None, "alice"]) == 2
    note_sensitive(["carol", "alice"])
    got = read_record(side)
    assert got["headline"] == {"requests": 12, "top_country": "US", "ok": True, "missing": None}
    assert got["context"] == {"model_version": "charcnn (content abc)",
                              "data_first": "2026-11-01T00:00:00Z", "data_last": "2026-11-01T23:59:00Z"}  # fmt: skip
    assert got["sensitive"] == {"account": ["alice", "bob", "carol"]}
    assert json.loads(side.read_text())["headline"]["requests"] == 12


def test_bad_names_values_and_kinds(monkeypatch):
    monkeypatch.delenv(RECORD_ENV, raising=False)
    with pytest.raises(InputError, match="identifier"):
        record(**{"bad name": 1})
    with pytest.raises(InputError, match="'table' must be a number"):
        record(table=pd.DataFrame())
    with pytest.raises(InputError, match="sensitive kind"):
        note_sensitive(["x"], kind="password")


def test_read_record_missing_and_broken(tmp_path):
    assert read_record(tmp_path / "none.json") == {"headline": {}, "context": {}, "sensitive": {}}
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="not a JSON object"):
        read_record(tmp_path / "bad.json")
