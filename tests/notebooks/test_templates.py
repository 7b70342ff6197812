"""Every report template: its shape, and executed on data (embedded and server stores).

The hostile-data test loads requests whose user agents, paths and fingerprints carry markup
and script, renders the traffic overview, and opens it in headless Chromium: no script may
run, no dialog open, no console error appear, no request leave the page, and the plotly
figures must draw. A redacted report must contain none of the data's IPs.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tests.conftest import SERVER_PASSWORD, SERVER_USER, fresh_database
from tests.notebooks import data
from tests.support.browser import inspect_page, require_browser
from workbench.errors import InputError
from workbench.reporting import list_templates, load_template, run_report
from workbench.reporting.investigate import investigate
from workbench.reporting.model_report import model_report
from workbench.reporting.params import is_secret_name
from workbench.reporting.templates import TEMPLATES_DIR
from workbench.store import ServerStore, apply_schema
from workbench.viz import plotly_js

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = sorted(TEMPLATES_DIR.glob("*.ipynb"))
KEY = "notebook-test-redaction-key-42"
#: How each template runs on the test data (parameters, plotly figures it draws, and
#: ``shows_requests: False`` when it shows no request strings or IPs). A new template adds its
#: entry here; the hostile-data, browser and redaction tests then cover it.
RUNS = {
    # alerts per detector over time, severity mix; attacker-named accounts in the incidents
    "triage": {"parameters": {**data.WINDOW, "limit": "10"}, "figures": 2, "shows_requests": False},
    # PSI per column, the most drifted histograms, score drift (the tiny model scores both
    # halves of the day), trend of past runs; no labels, so performance and calibration are notes
    "monitor": {
        "parameters": {
            "reference_start": "2026-11-01T00:00:00Z",
            "reference_end": "2026-11-01T12:00:00Z",
            "start": "2026-11-01T12:00:00Z",
            "end": "2026-11-02T00:00:00Z",
            "model": "{model}",
            "score_windows": "true",
        },
        "figures": 4,
        "shows_requests": False,
    },
    # volume, five top lists, bot scores, statuses, countries
    "traffic_overview": {"parameters": {**data.WINDOW, "limit": "10"}, "figures": 9},
    # timeline, percentiles, SHAP waterfall; the attacker's IP, whose requests are hostile
    "investigate": {
        "parameters": {
            **data.WINDOW,
            "entity_kind": "ip",
            "entity": data.HOSTILE_IPS[1],
            "model": "{model}",
            "text_model": "{text_model}",
            "heatmaps": "3",
            "limit": "20",
        },
        "figures": 3,
    },
    # ROC, precision-recall, calibration, confusion matrix, recall per actor, SHAP importance,
    # active-learning curves
    "model_report": {
        "parameters": {"model": "{model}", "previous": "{previous}"},
        "figures": 7,
        "shows_requests": False,
    },
}
#: Tiny tabular models trained on the test data: fast, and not degenerate on 150 IPs.
TINY_MODEL = {"n_estimators": 60, "min_child_samples": 5, "colsample_bytree": 0.5,
              "early_stopping_rounds": 20, "progress": False}  # fmt: skip


def parameters(name: str, models: dict[str, str]) -> dict[str, str]:
    """A template's test parameters, with ``{model}``/``{previous}`` set to trained folders."""
    return {key: value.format(**models) for key, value in RUNS[name]["parameters"].items()}


def test_every_template_is_executed_by_these_tests():
    assert [t.name for t in list_templates()] == [p.stem for p in TEMPLATES]
    assert sorted(RUNS) == [p.stem for p in TEMPLATES], "add the new template to RUNS"


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_template_shape(path):
    """One literal parameters cell, outputs stripped, and no logic of its own."""
    template = load_template(path)  # exactly one parameters cell, literal defaults
    assert template.description
    assert not any(is_secret_name(name) for name in template.parameters)
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        assert cell.outputs == [] and cell.execution_count is None, (
            "commit templates without outputs"
        )
        tree = ast.parse(cell.source)
        for node in ast.walk(tree):
            assert not isinstance(node, ast.FunctionDef | ast.ClassDef | ast.For | ast.While | ast.If
                                  | ast.With | ast.Try | ast.Lambda), f"logic in a template: {cell.source!r}"  # fmt: skip
        assert "connect(" not in cell.source and "chdb" not in cell.source, (
            "open the store in workbench"
        )
    assert nb.metadata.kernelspec.name == "python3"


@pytest.fixture(scope="module")
def hostile_server(chdb_server):
    """A server database with a day of traffic and the hostile rows, and the kernel's settings."""
    database = fresh_database()
    admin = ServerStore(chdb_server.url, password=SERVER_PASSWORD, user=SERVER_USER, retries=1)
    admin.command(f"CREATE DATABASE {database}")
    admin.close()
    url = f"{chdb_server.url}/{database}"
    store = ServerStore(url, password=SERVER_PASSWORD, user=SERVER_USER, retries=2)
    apply_schema(store)
    loaded = data.load(store)
    store.close()
    env = {"WB_CLICKHOUSE_URL": url, "WB_CLICKHOUSE_USER": SERVER_USER,
           "WB_CLICKHOUSE_PASSWORD": SERVER_PASSWORD}  # fmt: skip
    return {"env": env, **loaded}


@pytest.fixture(scope="module")
def tiny_models(hostile_server, tmp_path_factory):
    """Two versions of a tiny bot model and a tiny char-CNN, on the hostile server's data.

    About a second each; the CNN explains the hostile requests in the investigation's heat maps.
    """
    from workbench.models import CharCNNConfig, train_charcnn, train_tabular
    from workbench.store import connect

    folder = tmp_path_factory.mktemp("models")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in hostile_server["env"].items():
            mp.setenv(key, value)
        store = connect()
        try:
            for name, seed in (("previous", 1), ("model", 0)):
                train_tabular(store, data.WINDOW["start"], data.WINDOW["end"], folder / name,
                              split="random", seed=seed, name="bot-ip", **TINY_MODEL)  # fmt: skip
            config = CharCNNConfig(max_len=96, embed_dim=8, kernel_sizes=(3,), n_filters=8,
                                   hidden=8)  # fmt: skip
            train_charcnn(folder / "cnn", head="bot", store=store, start=data.WINDOW["start"],
                          end=data.WINDOW["end"], max_rows=1500, epochs=1, config=config,
                          progress=False)  # fmt: skip
        finally:
            store.close()
    return {"model": str(folder / "model"), "previous": str(folder / "previous"),
            "text_model": str(folder / "cnn")}  # fmt: skip


def report_text(path: Path) -> str:
    """A report's text without the plotly.js library (which is not data)."""
    return path.read_text().replace(plotly_js(), "")


@pytest.mark.slow
def test_traffic_overview_on_the_embedded_store(tmp_path):
    folder = tmp_path / "warehouse"
    done = subprocess.run(  # noqa: S603 - fills a folder this process never opens
        [sys.executable, "-m", "tests.notebooks.data", str(folder)],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    result = run_report("traffic_overview", {**data.WINDOW, "limit": "5"}, reports_dir=tmp_path / "reports",
                        env={"WB_DATA_DIR": str(folder), "WB_DATABASE": "default"})  # fmt: skip
    assert result.ok, result.record.error
    headline = result.record.headline
    assert headline["requests"] == loaded["rows"] == 3000
    assert headline["distinct_ips"] == len(loaded["ips"])
    assert 0 < headline["likely_automated_share"] < 1
    assert result.record.context["data_first"].startswith("2026-11-01")
    page = result.html_path.read_text()
    assert page.count("Plotly.newPlot") == RUNS["traffic_overview"]["figures"]
    assert not re.search(r"<script[^>]+src=", page) and "1970-01-01" not in page


@pytest.mark.slow
def test_model_report_shows_the_models_numbers(hostile_server, tiny_models, tmp_path):
    from workbench.models import load_model

    metrics = load_model(tiny_models["model"]).metrics["model"]["test"]
    result = run_report("model_report", parameters("model_report", tiny_models),
                        reports_dir=tmp_path, env=hostile_server["env"])  # fmt: skip
    assert result.ok, result.record.error
    headline = result.record.headline
    assert headline["pr_auc"] == pytest.approx(metrics["pr_auc"], abs=1e-4)
    assert headline["fpr_humans"] == pytest.approx(metrics["fpr_humans"], abs=1e-4)
    assert headline["baseline_pr_auc"] is not None
    assert result.record.context["model_version"].startswith("bot-ip@")
    assert result.record.context["data_first"].startswith("2026-11-01")
    page = report_text(result.html_path)
    assert page.count("Plotly.newPlot") == RUNS["model_report"]["figures"]
    assert "re-scored" in page and "No ROC curve" not in page and "No SHAP" not in page
    assert "Previous content hash" in page and "No previous version" not in page
    # active learning: the headline is what the experiment computes on the model's own data
    from workbench.labels.experiment import experiment_from_store

    artifact = load_model(tiny_models["model"])
    window = artifact.card["data_window"]
    store = ServerStore(hostile_server["env"]["WB_CLICKHOUSE_URL"], password=SERVER_PASSWORD,
                        user=SERVER_USER, retries=2)  # fmt: skip
    try:
        curves = experiment_from_store(store, window["start"], window["end"], window["entity"],
                                       artifact.features["features"], seeds=(0, 1, 2),
                                       initial=10, k=10, rounds=8)  # fmt: skip
    finally:
        store.close()
    expected = curves.headline()
    assert headline["al_best_strategy"] == expected["best_strategy"]
    assert headline["al_labels_to_95pct"] == expected["labels_to_reach"]
    assert headline["al_full_pr_auc"] == pytest.approx(expected["full_pr_auc"], abs=1e-4)
    assert headline["al_label_budget"] == expected["label_budget"] == 90
    for strategy, value in expected["pr_auc_at_budget"].items():
        assert headline[f"al_pr_auc_{strategy}"] == pytest.approx(value, abs=1e-4)
    assert "Active learning" in page and "No learning curves" not in page
    assert "PR-AUC at 90 labels, random" in page and "Best strategy" in page
    with pytest.raises(InputError, match="does not exist"):
        model_report(tmp_path / "missing")
    with pytest.raises(InputError, match="model is required"):
        model_report("")


@pytest.mark.slow
def test_investigate_without_a_model(hostile_server, tmp_path):
    entity = data.HOSTILE_IPS[1]
    params = {**data.WINDOW, "entity": entity, "limit": "5"}
    result = run_report("investigate", params, reports_dir=tmp_path, env=hostile_server["env"])
    assert result.ok, result.record.error
    headline = result.record.headline
    assert headline["requests"] == 300  # every other hostile row
    assert headline["bot_score"] is None and headline["flagged"] is None
    assert headline["related_entities"] >= 1  # the other hostile IP shares the JA4 and ASN
    assert headline["extreme_features"] >= 1
    page = report_text(result.html_path)
    assert page.count("Plotly.newPlot") == 2 and "No model was given" in page
    assert page.count(entity) >= 5 + 1  # summary and the sample requests


def test_investigate_rejects_bad_input(hostile_server, monkeypatch):
    for key, value in hostile_server["env"].items():
        monkeypatch.setenv(key, value)
    window = {"start": data.WINDOW["start"], "end": data.WINDOW["end"]}
    with pytest.raises(InputError, match="made no requests"):
        investigate("192.0.2.250", "ip", **window)
    with pytest.raises(InputError, match="entity_kind must be one of"):
        investigate("x", "session", **window)
    with pytest.raises(InputError, match="an ASN is a number"):
        investigate("AS64500", "asn", **window)
    with pytest.raises(InputError, match="entity is required"):
        investigate(" ", "ip", **window)


@pytest.fixture(scope="module", params=sorted(RUNS))
def hostile_report(request, hostile_server, tiny_models, tmp_path_factory):
    """Each template run once on the hostile data, for the tests below."""
    result = run_report(request.param, parameters(request.param, tiny_models),
                        reports_dir=tmp_path_factory.mktemp("hostile"), env=hostile_server["env"])  # fmt: skip
    assert result.ok, result.record.error
    return result


@pytest.mark.slow
def test_hostile_strings_are_escaped_in_the_html(hostile_report):
    page = report_text(hostile_report.html_path)
    for payload in data.PAYLOADS:
        assert payload not in page, payload
    if RUNS[hostile_report.record.name].get("shows_requests", True):
        assert "&lt;img src=x onerror=alert(1)&gt;" in page  # shown, as text
    if hostile_report.record.name == "investigate":  # the CNN's heat maps of hostile requests
        assert page.count('class="wb-heatmap"') == 3 and "&lt;</span>" in page
    assert SERVER_PASSWORD not in page
    assert SERVER_PASSWORD not in hostile_report.notebook_path.read_text()
    assert not re.search(r"<script[^>]+src=", page)


@pytest.mark.slow
@pytest.mark.browser
def test_hostile_report_is_inert_in_a_browser(hostile_report):
    require_browser()
    figures = RUNS[hostile_report.record.name]["figures"]
    seen = inspect_page(hostile_report.html_path, expect_plotly=figures)
    assert seen.problems() == []
    assert seen.plotly_plots == figures and seen.plotly_svgs >= figures
    shown_here = RUNS[hostile_report.record.name].get("shows_requests", True)
    for shown in [*data.HOSTILE_UAS, *data.HOSTILE_PATHS, data.HOSTILE_JA4] if shown_here else []:
        assert shown in seen.text  # the reader sees the attacker's strings, as text


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RUNS))
def test_redacted_report_has_none_of_the_ips(name, hostile_server, tiny_models, tmp_path,
                                             monkeypatch):  # fmt: skip
    monkeypatch.setenv("WB_REDACT_KEY", KEY)
    result = run_report(name, parameters(name, tiny_models), redact=True, reports_dir=tmp_path,
                        env=hostile_server["env"])  # fmt: skip
    assert result.ok, result.record.error
    files = [
        result.html_path,
        result.notebook_path,
        result.folder / "run.json",
        tmp_path / "index.html",
    ]
    texts = {path.name: report_text(path) for path in files}
    assert len(hostile_server["ips"]) > 100
    for ip in [*hostile_server["ips"], "victim@example.org"]:
        for file_name, text in texts.items():
            assert ip not in text, (ip, file_name)
    if RUNS[name].get("shows_requests", True):
        assert re.search(r"ip-[0-9a-f]{10}", texts[result.html_path.name])


@pytest.mark.browser
def test_browser_harness_catches_what_it_should(tmp_path):
    """The harness itself: a page that misbehaves is reported."""
    require_browser()
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<html><body><p>x</p><script>window.__xss = 1; alert('hi'); console.error('boom');"
        "fetch('http://example.invalid/');</script><img src='https://example.invalid/a.png'>"
        "<script>throw new Error('uncaught');</script></body></html>"
    )
    seen = inspect_page(bad)
    assert seen.xss_flag == 1 and seen.dialogs == ["alert: hi"]
    assert "boom" in " ".join(seen.console_errors) and "uncaught" in " ".join(seen.page_errors)
    assert any("example.invalid" in url for url in seen.external_requests)
    assert len(seen.problems()) >= 5
