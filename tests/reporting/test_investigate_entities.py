"""The investigation of an account, the alerts naming an entity, and char-CNN heat maps.

Accounts come from the hand-made detection scenarios (``tests/detect/scenarios.py``): the
account ``bf.victim`` is brute-forced from 203.0.113.10 and then signs in. Heat maps use a
tiny char-CNN trained on a few hundred synthetic requests (a few seconds on CPU).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from tests.detect import scenarios
from tests.detect.events import at, load
from workbench.detect import build_alerts, make_window
from workbench.errors import InputError
from workbench.reporting.heatmaps import request_heatmaps
from workbench.reporting.investigate import investigate
from workbench.synth import generate_traffic

DAY = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
TRAFFIC = {"start": DAY, "end": DAY + dt.timedelta(days=1)}
HOSTILE_USER = '"><img src=x onerror=alert(1)>'


@pytest.fixture(scope="module")
def loaded(store):
    """Scenario sign-ins with their alerts written, a hostile account, and a day of requests."""
    rows = scenarios.rows()
    rows.append({**rows[0], "User": HOSTILE_USER, "EventID": "hostile-user-1"})
    load(store, rows)
    build_alerts(store, make_window(at(7), at(14), baseline_days=7))
    for table in generate_traffic(800, days=1, seed=11, start=DAY):
        store.insert_arrow("http_requests", table)
    return store


def test_an_account_is_investigated_from_its_events_and_alerts(loaded):
    case = investigate("bf.victim", "account", at(7), at(14), limit=50, store=loaded)
    counted = loaded.query_df(
        "SELECT count() AS n, countIf(Success = 0) AS failed FROM auth_events "
        "WHERE User = {u:String} AND EventTime >= {s:DateTime64(3)} AND EventTime < {e:DateTime64(3)}",
        {"u": "bf.victim", "s": at(7), "e": at(14)},
    ).iloc[0]
    assert case.verdict["events"] == int(counted["n"]) == int(case.timeline["events"].sum())
    assert int(case.timeline["failures"].sum()) == int(counted["failed"]) >= 30
    detectors = set(case.alerts["Detector"])
    assert {"brute_force", "impossible_travel"} <= detectors
    assert case.verdict["alerts"] == len(case.alerts)
    assert "auth_failures" in set(case.percentiles["feature"])
    assert set(case.samples["User"]) == {"bf.victim"} and len(case.samples) == min(50, counted["n"])
    # the brute-forcing address is shared with no other account; the home laptop neither
    assert set(case.related["via"]) <= {"SourceIP", "Device", "SourceASN"}
    assert case.score is None and "behaviour analytics" in case.model_note
    assert "no request text" in str(case.heatmaps_html())
    assert "Authentication events per" in case.timeline_figure().layout.title.text


def test_an_address_shows_the_login_attacks_it_took_part_in(loaded):
    alerts = loaded.query_df(
        "SELECT count() AS n FROM alerts WHERE Entity = {ip:String} OR has(SourceIPs, {ip:String})",
        {"ip": "203.0.113.10"},
    )["n"].iloc[0]
    case = investigate("bf.victim", "account", at(7), at(14), limit=1000, store=loaded)
    from_ip = case.alerts[case.alerts["Entity"] == "203.0.113.10"]
    assert len(from_ip) >= 1 and alerts >= len(from_ip)


def test_hostile_account_names_are_escaped(loaded):
    case = investigate(HOSTILE_USER, "account", at(0), at(14), store=loaded)
    html = str(case.summary_table()) + str(case.samples_table())
    assert HOSTILE_USER not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_account_errors_are_clear(loaded):
    with pytest.raises(InputError, match="made no events"):
        investigate("nobody.here", "account", at(7), at(14), store=loaded)
    with pytest.raises(InputError, match="entity is required: the account"):
        investigate("  ", "account", at(7), at(14), store=loaded)


@pytest.fixture(scope="module")
def tiny_cnn(loaded, tmp_path_factory):
    from workbench.models import CharCNNConfig, train_charcnn

    folder = tmp_path_factory.mktemp("cnn") / "cnn-bot"
    config = CharCNNConfig(max_len=96, embed_dim=8, kernel_sizes=(3,), n_filters=8, hidden=8)
    train_charcnn(folder, head="bot", store=loaded, start=TRAFFIC["start"], end=TRAFFIC["end"],
                  max_rows=600, epochs=1, config=config, progress=False)  # fmt: skip
    return folder


def test_sample_requests_get_character_heat_maps(loaded, tiny_cnn):
    from workbench.explain import explain_cnn
    from workbench.models.train_text import load_text_model

    ip = loaded.query_df(
        "SELECT ClientIP FROM http_requests GROUP BY ClientIP ORDER BY count() DESC, ClientIP LIMIT 1"
    )["ClientIP"].iloc[0]
    case = investigate(ip, "ip", **TRAFFIC, limit=5, text_model=str(tiny_cnn), heatmaps=2,
                       store=loaded)  # fmt: skip
    maps = case.heatmaps
    assert (
        len(maps.explanations) == 2
        and maps.head == "bot"
        and maps.model.startswith("charcnn-bot-requests@")
    )
    model = load_text_model(tiny_cnn)
    expected = explain_cnn(model, case.samples.head(2).reset_index(drop=True), head="bot")
    for i, one in enumerate(maps.explanations):
        n = len(one.values)
        assert np.allclose(one.values, np.asarray(expected.values[i])[:n])
        assert "".join(one.data) and maps.probabilities[i] == pytest.approx(
            float(model.predict_bad_proba(case.samples.iloc[[i]], head="bot")[0]), abs=1e-6
        )
    page = str(case.heatmaps_html())
    assert page.count('class="wb-heatmap"') == 2 and "probability automated" in page


def test_heat_map_errors_are_clear(loaded, tiny_cnn, tmp_path):
    frame = loaded.run("requests_for_entity", entity_column="ClientIP", entity="x", limit=1)
    assert "No char-CNN was given" in request_heatmaps("", frame).note
    with pytest.raises(InputError, match="does not exist"):
        request_heatmaps(tmp_path / "missing", frame)
    with pytest.raises(InputError, match="between 0 and 20"):
        request_heatmaps(tiny_cnn, frame, n=21)
    assert request_heatmaps(tiny_cnn, frame).note == "No requests to explain."


def test_every_account_shown_is_noted_for_redaction(loaded, tmp_path, monkeypatch):
    from workbench.reporting.record import RECORD_ENV, read_record
    from workbench.reporting.redact import Redactor

    side = tmp_path / "record.json"
    monkeypatch.setenv(RECORD_ENV, str(side))
    case = investigate("bf.victim", "account", at(7), at(14), limit=100, store=loaded)
    noted = set(read_record(side)["sensitive"]["account"])
    shown = {"bf.victim", *case.related["related_entity"], *case.samples["User"],
             *(u for users in case.alerts["Users"] for u in users)}  # fmt: skip
    assert shown - {""} <= noted and len(noted) >= 2
    page = "".join(str(t) for t in (case.summary_table(), case.samples_table(),
                                    case.alerts_table(), case.related_tables()))  # fmt: skip
    redacted = Redactor("a-test-key-of-enough-length", noted).text(page)
    for name in noted:
        assert name not in redacted, name
