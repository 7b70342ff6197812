"""CSV import: header aliases, bad rows counted with line numbers, unknown verdicts refused."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.errors import InputError
from workbench.labels import import_labels_csv, read_labels


def _write(tmp_path, text: str):
    path = tmp_path / "labels.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_import_maps_columns_and_reports_bad_rows(embedded_store, tmp_path) -> None:
    path = _write(
        tmp_path,
        "IP,Label,User,Comment,Timestamp\n"
        '20.0.0.1,Bad_Bot,ann,"scraper, fast",2026-11-01T10:00:00Z\n'
        "20.0.0.2,human,,checked,2026-11-01 11:00\n"
        ",benign,ann,,\n"
        "20.0.0.4,benign,ann,,yesterday-ish\n"
        "20.0.0.5,,ann,,\n"
        "20.0.0.6,benign,ann\n"
        "\n"
        "20.0.0.7,malicious,ann,,\n",
    )
    result = import_labels_csv(embedded_store, path, analyst="default-analyst")
    assert result.inserted == 3
    assert [n for n, _ in result.bad_rows] == [4, 5, 6, 7, 8]
    reasons = dict(result.bad_rows)
    assert reasons[4] == "empty entity" and "unreadable time" in reasons[5]
    assert reasons[6] == "empty verdict" and "fields" in reasons[7]
    assert "5 bad rows" in result.describe() and "line 5" in result.describe()
    got = read_labels(embedded_store).set_index("Entity")
    assert got.loc["20.0.0.1", "Verdict"] == "bad_bot"
    assert got.loc["20.0.0.1", "Note"] == "scraper, fast"
    assert got.loc["20.0.0.1", "Source"] == "csv"
    assert got.loc["20.0.0.2", "Analyst"] == "default-analyst"
    assert got.loc["20.0.0.2", "LabelTime"] == pd.Timestamp("2026-11-01T11:00:00Z")
    assert "20.0.0.4" not in got.index


def test_unknown_verdicts_refuse_the_file(embedded_store, tmp_path) -> None:
    path = _write(tmp_path, "entity,verdict,analyst\n30.0.0.1,bad,ann\n30.0.0.2,evil,ann\n")
    with pytest.raises(InputError, match=r"line 3: 'evil'.*Nothing was imported"):
        import_labels_csv(embedded_store, path)
    assert "30.0.0.1" not in set(read_labels(embedded_store)["Entity"])


def test_strict_missing_analyst_and_header_errors(embedded_store, tmp_path) -> None:
    path = _write(tmp_path, "entity,verdict\n31.0.0.1,bad\n")
    result = import_labels_csv(embedded_store, path)
    assert result.inserted == 0 and "no analyst" in result.bad_rows[0][1]
    with pytest.raises(InputError, match="1 bad rows"):
        import_labels_csv(embedded_store, path, strict=True)
    with pytest.raises(InputError, match="no verdict column"):
        import_labels_csv(embedded_store, _write(tmp_path, "entity,analyst\nx,ann\n"))
    with pytest.raises(InputError, match="no such CSV"):
        import_labels_csv(embedded_store, tmp_path / "missing.csv")
    with pytest.raises(InputError, match="empty"):
        import_labels_csv(embedded_store, _write(tmp_path, ""))
    bad_bytes = tmp_path / "latin.csv"
    bad_bytes.write_bytes(b"entity,verdict\n\xff\xfe,bad\n")
    with pytest.raises(InputError, match="UTF-8"):
        import_labels_csv(embedded_store, bad_bytes)
