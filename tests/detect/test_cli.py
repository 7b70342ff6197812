"""``wb alerts build | triage | list`` end to end on a small synthetic company."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from workbench.detect import alert_frame, make_alert, write_alerts
from workbench.detect.allowlist import EXAMPLE
from workbench.detect.cli import app, parse_options
from workbench.errors import InputError
from workbench.store import connect
from workbench.synth.auth import write_auth_events

runner = CliRunner()


def test_parse_options():
    assert parse_options(["brute_force.min_failures=30", "off_hours.max_share=0.05",
                          "user_day_model.use_labels=false", "x.y=text"]) == {
        "brute_force": {"min_failures": 30}, "off_hours": {"max_share": 0.05},
        "user_day_model": {"use_labels": False}, "x": {"y": "text"},
    }  # fmt: skip
    for bad in ("min_failures=3", "brute_force.min_failures", ".x=1"):
        with pytest.raises(InputError, match="detector.threshold=value"):
            parse_options([bad])


def test_build_triage_list():
    store = connect()
    write_auth_events(store, 80, 10, 5, clean_days=5, progress=False)
    store.close()

    built = runner.invoke(app, ["build", "--baseline-days", "5", "--no-progress"])
    assert built.exit_code == 0, built.output
    assert "brute_force" in built.output and "wrote" in built.output
    triaged = runner.invoke(app, ["triage", "--baseline-days", "5", "--allowlist", str(EXAMPLE)])
    assert triaged.exit_code == 0, triaged.output
    assert "suppressed by office-egress: 0" in triaged.output
    assert "against injected ground truth" in triaged.output and "recall" in triaged.output
    listed = runner.invoke(app, ["list", "--limit", "3"])
    assert listed.exit_code == 0 and "3 alerts" in listed.output
    incidents = runner.invoke(app, ["list", "--incidents", "--min-severity", "high"])
    assert incidents.exit_code == 0 and "incidents" in incidents.output

    dry = runner.invoke(app, ["build", "--baseline-days", "5", "--no-progress", "--dry-run",
                              "-d", "brute_force", "-o", "brute_force.min_failures=5"])  # fmt: skip
    assert dry.exit_code == 0 and "nothing written" in dry.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["build", "--start", "2026-01-02", "--end", "2026-01-03", "-o", "brute_force.nope=1"],
         "no threshold 'nope'"),
        (["build", "--start", "soon", "--end", "2026-01-03"], "not a date"),
        (["build"], "auth_events is empty"),
        (["triage", "--start", "2026-01-02", "--end", "2026-01-03", "--allowlist", "missing.yaml"],
         "no such allowlist"),
        (["triage", "--start", "2026-01-02", "--end", "2026-01-03", "--min-severity", "dire"],
         "unknown severity"),
        (["list", "--limit", "0"], "limit"),
    ],
)  # fmt: skip
def test_errors_are_typed(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code != 0
    assert isinstance(result.exception, InputError), result.output
    assert message in str(result.exception)


def test_listing_escapes_hostile_entities():
    store = connect()
    t0 = pd.Timestamp("2026-06-01", tz="UTC")
    evil = "mallory\x1b[2J\x1b]0;pwned\x07[bold]x[/bold]"
    alerts = alert_frame([make_alert("off_hours", "user", evil, t0, 45, [f"{evil} at night"], {})])
    write_alerts(store, alerts, t0, t0 + pd.Timedelta(days=1), ["off_hours"])
    store.close()
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "[bold]x[/bold]" in result.output  # shown as text, not interpreted as markup
