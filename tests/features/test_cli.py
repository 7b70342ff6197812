"""``wb features list`` and ``wb features build`` (embedded store)."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from tests.features.traffic import T0, make_requests
from workbench.errors import InputError
from workbench.features import FEATURES, build_entity_features, features_for, write_entity_features
from workbench.features.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def loaded(embedded_store):
    embedded_store.insert_df("http_requests", make_requests(seed=5))
    return embedded_store


@pytest.fixture
def cli_store(loaded, monkeypatch):
    """Point `connect()` at the loaded store's folder and database."""
    monkeypatch.setenv("WB_DATA_DIR", str(loaded.path))
    monkeypatch.setenv("WB_DATABASE", loaded.database)
    return loaded


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=True)


def test_list_shows_every_feature_and_its_entities():
    result = invoke("list")
    assert result.exit_code == 0, result.output
    for f in FEATURES.values():
        line = next(x for x in result.output.splitlines() if x.startswith(f.name + " "))
        assert f.unit in line and f.description[:30] in line
    line = next(x for x in result.output.splitlines() if x.startswith("ip_rank "))
    assert "ja4, ja3" in line
    line = next(x for x in result.output.splitlines() if x.startswith("distinct_ips "))
    assert "except ip, ip_ua" in line
    assert "all request entities" in result.output
    only = invoke("list", "--entity", "account", "--long")
    assert "auth_failure_share" in only.output and "path_entropy_bits" not in only.output
    assert "sumIf(Repeats, Success = 0)" in only.output


def test_build_to_parquet_streams_the_same_rows(cli_store, tmp_path):
    out = tmp_path / "sub" / "f.parquet"
    result = invoke(
        "build", "--entity", "ClientIP", "--start", "2024-05-01", "--end", "2024-05-02",
        "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    written = pq.read_table(out).to_pandas()
    direct = build_entity_features(cli_store, "ip", T0, T0 + pd.Timedelta(days=1))
    assert f"wrote {len(direct)} ip rows" in result.output
    pd.testing.assert_frame_equal(written, direct)
    assert not list(out.parent.glob("*.partial"))


def test_build_default_window_csv_and_feature_subset(cli_store, tmp_path):
    out = tmp_path / "f.csv"
    result = invoke("build", "--entity", "ja4", "--features", "requests,ip_rank", "--out", str(out))
    assert result.exit_code == 0, result.output
    written = pd.read_csv(out)
    assert list(written.columns) == ["JA4", "requests", "ip_rank"]
    # the default window covers every row, including the one a day later
    assert (
        written["requests"].sum()
        == cli_store.query_df("SELECT count() AS n FROM http_requests WHERE JA4 != ''")["n"].iloc[0]
    )


def test_build_prints_a_preview(cli_store):
    result = invoke("build", "--entity", "asn", "--max-rows", "2", "--features", "requests")
    assert result.exit_code == 0, result.output
    assert "ClientASN" in result.output and "rows in all" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--entity", "port"], "unknown entity 'port'"),
        (["--entity", "ip", "--features", "ip_rank"], "does not apply"),
        (["--entity", "ip", "--features", " , "], "--features is empty"),
        (["--entity", "ip", "--out", "x.json"], "must end in .parquet or .csv"),
        (["--entity", "ip", "--start", "yesterday-ish"], "is not a time"),
        (["--entity", "ip", "--start", "2024-05-02", "--end", "2024-05-01"], "before end"),
    ],
)
def test_build_errors_are_typed(cli_store, args, message):
    result = invoke("build", *args)
    assert result.exit_code != 0
    assert isinstance(result.exception, InputError)
    assert message in str(result.exception)


def test_empty_window_writes_an_empty_file_with_columns(cli_store, tmp_path):
    out = tmp_path / "empty.parquet"
    rows = write_entity_features(cli_store, "ip_ua", "2030-01-01", "2030-01-02", out)
    assert rows == 0
    table = pq.read_table(out)
    assert table.num_rows == 0
    assert table.column_names == ["ClientIP", "ClientRequestUserAgent"] + [
        f.name for f in features_for("ip_ua")
    ]
