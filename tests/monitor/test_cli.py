"""``wb monitor drift|performance|calibration|history`` (embedded store)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import typer
from typer.testing import CliRunner

from workbench.errors import InputError, ModelIntegrityError
from workbench.models.artifacts import resolve_model
from workbench.monitor.cli import DRIFT_EXIT_CODE, app
from workbench.synth import write_traffic

runner = CliRunner()
DAY1 = "2026-11-01T00:00:00Z"
DAY2 = "2026-11-02T00:00:00Z"
DAY3 = "2026-11-03T00:00:00Z"


@pytest.fixture(scope="module")
def loaded(embedded_store):
    write_traffic(embedded_store, 5_000, days=2, seed=4,
                  start=dt.datetime(2026, 11, 1, tzinfo=dt.UTC), progress=False)  # fmt: skip
    embedded_store.command(
        "INSERT INTO scores (RayID, EntityType, Entity, EventTime, Model, Version, Probability, "
        "Score) SELECT RayID, 'request', ClientIP, EdgeStartTimestamp, 'bot\x1b[31m', '1', p, "
        "toUInt8(1 + round(98 * (1 - p))) FROM (SELECT *, if(label = 'human', 0.1, 0.9) AS p "
        "FROM http_requests)"
    )
    return embedded_store


@pytest.fixture
def cli_store(loaded, monkeypatch):
    """Point `connect()` at the loaded store's folder and database."""
    monkeypatch.setenv("WB_DATA_DIR", str(loaded.path))
    monkeypatch.setenv("WB_DATABASE", loaded.database)
    return loaded


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=True)


def test_drift_prints_a_table_writes_monitoring_and_json(cli_store, tmp_path):
    out = tmp_path / "drift.json"
    result = invoke("drift", "--reference", DAY1, DAY2, "--current", DAY2, DAY3,
                    "--features", "requests,burst_share", "--no-progress", "--json", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["group", "subject", "psi"]
    assert any(line.split()[:2] == ["ip", "features"] and "burst_share" in line for line in lines)
    assert any("country" in line for line in lines) and any("score" in line for line in lines)
    assert "\x1b" not in result.output and "bot\\x1b[31m" in result.output  # escaped, inert
    summary = next(line for line in lines if line.startswith("drift "))
    assert "compared" in summary
    run_line = next(line for line in lines if line.startswith("run "))
    run_id = run_line.split()[1].rstrip(":")
    stored = cli_store.query_df(
        "SELECT count() AS n FROM monitoring WHERE RunID = {r:String}", {"r": run_id}
    )["n"].iloc[0]
    payload = json.loads(out.read_text())
    assert payload["run_id"] == run_id and payload["reference"]["start"].startswith("2026-11-01")
    results = payload["results"]
    assert stored == 4 * len(results) and {p["subject"] for p in results} >= {"requests", "score"}
    assert any(p["ks"] is None for p in results)  # categories have no KS: null, not NaN

    history = invoke("history", "--metric", "psi", "--subject", "requests,burst_share")
    assert history.exit_code == 0, history.output
    assert "burst_share" in history.output and "t-0" in history.output
    assert "2 series from 1 runs" in history.output


def test_drift_fail_on_and_show(cli_store):
    result = invoke("drift", "--reference", DAY1, DAY2, "--current", DAY2, DAY3,
                    "--features", "night_share", "--no-requests", "--no-scores", "--no-write",
                    "--no-progress", "--alpha", "1", "--minor", "0.0001", "--major", "0.0002",
                    "--fail-on", "major", "--show", "major")  # fmt: skip
    assert result.exit_code == DRIFT_EXIT_CODE, result.output
    assert "night_share" in result.output and "rows written" not in result.output


def test_performance_and_calibration_commands(cli_store):
    result = invoke("performance", "--start", DAY1, "--end", DAY3, "--truth", "ground_truth")
    assert result.exit_code == 0, result.output
    assert "pr_auc" in result.output and "rows written to monitoring" in result.output
    assert result.output.count("2026-11-0") == 2  # one row per day
    calib = invoke("calibration", "--reference", DAY1, DAY2, "--current", DAY2, DAY3,
                   "--truth", "ground_truth", "--no-write")  # fmt: skip
    assert calib.exit_code == 0, calib.output
    assert "ece_delta" in calib.output and "calibration none" in calib.output


def test_user_errors_are_workbench_errors(cli_store):
    bad = invoke("drift", "--reference", DAY2, DAY1, "--current", DAY2, DAY3, "--no-progress")
    assert isinstance(bad.exception, InputError) and "must be before" in str(bad.exception)
    bad = invoke("drift", "--reference", DAY1, DAY2, "--current", DAY2, DAY3, "--features", ",")
    assert isinstance(bad.exception, InputError)
    bad = invoke("drift", "--reference", DAY1, DAY2, "--current", DAY2, DAY3, "--fail-on", "x")
    assert isinstance(bad.exception, InputError) and "--fail-on" in str(bad.exception)
    bad = invoke("performance", "--start", DAY1, "--end", DAY3, "--bucket", "minute")
    assert isinstance(bad.exception, InputError)
    missing = invoke("drift", "--reference", DAY1)
    assert missing.exit_code == 2  # typer's usage error


def test_resolve_model_reads_a_verified_model_folder(tmp_path):
    from workbench.models import save_model

    folder = save_model(tmp_path / "m", None, {"a": 1}, {}, {}, {"name": "bot-cnn"})
    name, version = resolve_model(str(folder), None)
    assert name == "bot-cnn" and len(version) == 12
    assert resolve_model(str(folder), "v7") == ("bot-cnn", "v7")
    assert resolve_model("plain-name", None) == ("plain-name", None)
    (folder / "config.json").write_text('{"a": 2}')
    with pytest.raises(ModelIntegrityError):
        resolve_model(str(folder), None)


def test_the_app_is_a_typer_group():
    assert isinstance(app, typer.Typer)
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("drift", "performance", "calibration", "history"):
        assert command in result.output
