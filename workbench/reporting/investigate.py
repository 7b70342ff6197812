"""The investigation report: one entity over a window, against the population it is part of.

An entity is an IP address, a network (ASN), a TLS fingerprint (JA4), a user agent or an
account. The report shows its timeline, its behaviour features as percentiles of every entity
of the same kind in the window, its model score with the SHAP explanation (when a tabular
model of that entity kind is given), the alerts that name it, sample requests (or
authentication events) with character heat maps when a char-CNN is given, the entities that
share its fingerprint, network, user agent, source address or device, and a short verdict
whose numbers are recorded for the index. Aggregation runs in the store; only the entity's
sample rows come back raw.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from workbench.errors import InputError
from workbench.reporting.access import report_store
from workbench.reporting.entity_sources import (
    SOURCES,
    account_names,
    alerts_naming,
    entity_value,
    newest_rows,
    related_entities,
    resolve_source,
)
from workbench.reporting.heatmaps import RequestHeatmaps, request_heatmaps
from workbench.reporting.record import note_sensitive, record, record_context
from workbench.reporting.sections import bucket_label, bucket_seconds_for
from workbench.store import Store
from workbench.timespec import as_utc_times, format_time, time_window
from workbench.viz import (
    SafeHTML,
    concat,
    heading,
    html_table,
    key_value_table,
    paragraph,
    volume_timeseries,
    waterfall,
)
from workbench.viz.figures import TEMPLATE, plot_label

#: Entity kinds the report covers (the features registry's names) and what they are called.
KINDS = {kind: source.label for kind, source in SOURCES.items()}
#: A feature at or above this percentile of the population counts as extreme in the verdict.
EXTREME_PERCENTILE = 99.0
_FLAG_BELOW = 30


@dataclass
class Investigation:
    """One entity over a window, with methods returning its figures and tables.

    Attributes
    ----------
    kind, entity : str
        The entity kind (``ip``, ``asn``, ``ja4``, ``user_agent``, ``account``) and its value.
    start, end : datetime
        The window (UTC, end exclusive).
    timeline : pandas.DataFrame
        Requests per time bucket with status classes (accounts: events, successes and
        failures).
    bucket_seconds : int
        Bucket width.
    percentiles : pandas.DataFrame
        Per feature: the entity's value, population median and 90th percentile, and the
        entity's mid-rank percentile (entities below it plus half of those equal, in %; a
        value every entity shares is at the 50th).
    population : int
        Entities of the same kind active in the window.
    samples : pandas.DataFrame
        The entity's newest requests (accounts: authentication events).
    related : pandas.DataFrame
        Other entities sharing a fingerprint, network, user agent, source address or device
        with it (``via`` column).
    alerts : pandas.DataFrame
        Alerts overlapping the window that name the entity.
    score : dict or None
        ``probability``, ``score`` (1–99, below 30 = flagged), ``score_percentile`` and
        ``model``, when a model was given and applies.
    explanation : shap.Explanation or None
        The entity's SHAP explanation (one row).
    model_note : str
        Why there is no score, when there is none.
    heatmaps : RequestHeatmaps
        Character heat maps of the first sample requests, or why there are none.
    """

    kind: str
    entity: str
    start: dt.datetime
    end: dt.datetime
    timeline: pd.DataFrame
    bucket_seconds: int
    percentiles: pd.DataFrame
    population: int
    samples: pd.DataFrame
    related: pd.DataFrame
    alerts: pd.DataFrame
    score: dict[str, Any] | None = None
    explanation: Any = None
    model_note: str = ""
    heatmaps: RequestHeatmaps = field(default_factory=RequestHeatmaps)
    verdict: dict[str, Any] = field(default_factory=dict)

    @property
    def unit(self) -> str:
        """What one row of the entity is: ``requests`` or ``events``."""
        return SOURCES[self.kind].unit

    def summary_table(self) -> SafeHTML:
        """Return what is investigated, over which window, and how much traffic it made."""
        return key_value_table({
            "Entity": f"{KINDS[self.kind]}: {self.entity}",
            "Window (UTC)": f"{format_time(self.start)} \u2192 {format_time(self.end)}",
            self.unit.capitalize(): self.verdict.get(self.unit, 0),
            f"Active {KINDS[self.kind]} entities in the window": self.population,
        })  # fmt: skip

    def timeline_figure(self) -> go.Figure:
        """Return the entity's activity over time, stacked by status class (or outcome)."""
        width = bucket_label(self.bucket_seconds)
        if self.unit == "events":
            return volume_timeseries(self.timeline, series=("successes", "failures"),
                                     title=f"Authentication events per {width} (UTC)")  # fmt: skip
        return volume_timeseries(self.timeline, title=f"Requests per {width} (UTC)")

    def percentile_figure(self, max_features: int = 25) -> go.Figure:
        """Return the entity's percentile per feature, most extreme first."""
        frame = self.percentiles.sort_values("percentile", ascending=False).head(max_features)
        colors = ["#c62828" if p >= EXTREME_PERCENTILE else "#607d8b" for p in frame["percentile"]]
        fig = go.Figure(go.Bar(
            x=frame["percentile"], y=[plot_label(f, 40) for f in frame["feature"]],
            orientation="h", marker_color=colors,
            customdata=np.stack([frame["value"], frame["median"]], axis=-1),
            hovertemplate="%{y}: percentile %{x:.1f}<br>value %{customdata[0]:.4g}, "
                          "median %{customdata[1]:.4g}<extra></extra>",
        ))  # fmt: skip
        fig.update_yaxes(autorange="reversed", type="category", automargin=True)
        fig.update_xaxes(title_text="percentile among entities of the window", range=[0, 100])
        fig.update_layout(title={"text": "Behaviour against the population", "x": 0.0},
                          template=TEMPLATE, height=max(300, 60 + 22 * len(frame)),
                          margin={"l": 10, "r": 10, "t": 50, "b": 10})  # fmt: skip
        return fig

    def percentile_table(self) -> SafeHTML:
        """Return the entity's features with population median, p90 and percentile."""
        return html_table(self.percentiles.round(4), max_rows=200)

    def score_table(self) -> SafeHTML:
        """Return the model's score of the entity, or why there is none."""
        if self.score is None:
            return paragraph(self.model_note, "wb-note")
        s = self.score
        return key_value_table({
            "Model": s["model"],
            "Probability automated": round(s["probability"], 4),
            "Bot score (1 = automated, 99 = human)": s["score"],
            "Flagged (score below 30)": s["score"] < _FLAG_BELOW,
            "Share of the population scoring at least as automated": (
                f"{100 * s['score_share_below']:.1f} %"
            ),
        })  # fmt: skip

    def explanation_figure(self) -> go.Figure | SafeHTML:
        """Return the SHAP waterfall of the entity's score, or why there is none."""
        if self.explanation is None:
            return paragraph(self.model_note, "wb-note")
        return waterfall(self.explanation, title="Why this score (SHAP, log-odds of automated)")

    def samples_table(self) -> SafeHTML:
        """Return the entity's newest requests or events (every string escaped)."""
        if self.samples.empty:
            return paragraph(f"No {self.unit} in this window.", "wb-note")
        shown = [c for c in SOURCES[self.kind].sample_columns if c in self.samples.columns]
        return html_table(self.samples[shown], max_rows=len(self.samples), max_chars=90)

    def heatmaps_html(self) -> SafeHTML:
        """Return the char-CNN heat maps of the first sample requests, or why there are none."""
        return self.heatmaps.html()

    def alerts_table(self) -> SafeHTML:
        """Return the alerts that name the entity (as entity, user, source IP or device)."""
        if self.alerts.empty:
            return paragraph("No alert names this entity in the window.", "wb-note")
        shown = self.alerts.assign(Users=[", ".join(map(str, u)) for u in self.alerts["Users"]])
        return html_table(shown, max_rows=len(shown), max_chars=160)

    def related_tables(self) -> SafeHTML:
        """Return, per relation, the other entities sharing a value with this one."""
        parts: list[SafeHTML] = []
        for via, title in SOURCES[self.kind].related_by.items():
            frame = self.related[self.related["via"] == via].drop(columns="via")
            parts.append(heading(title.capitalize(), 3))
            if frame.empty:
                parts.append(paragraph("No other entity shares it in this window.", "wb-note"))
            else:
                parts.append(html_table(frame, max_chars=90))
        return concat(*parts)

    def verdict_table(self) -> SafeHTML:
        """Return the verdict's numbers (the ones recorded for the index)."""
        v = self.verdict
        extreme = ", ".join(v["extreme_features"]) or "none"
        score = "no model" if v["score"] is None else f"{v['score']} (flagged: {v['flagged']})"
        return key_value_table({
            f"{self.unit.capitalize()} in the window": v[self.unit],
            f"Features at or above the {EXTREME_PERCENTILE:g}th percentile": extreme,
            "Bot score": score,
            "Alerts naming it": v["alerts"],
            "Related entities": v["related_entities"],
        })  # fmt: skip


def _percentiles(population: pd.DataFrame, key: str, entity: str, unit: str) -> pd.DataFrame:
    match = population[population[key].astype(str) == entity]
    if match.empty:
        raise InputError(f"{entity!r} made no {unit} in this window")
    row = match.iloc[0]
    rows = []
    for name in population.columns:
        column = population[name]
        if name == key or not pd.api.types.is_numeric_dtype(column):
            continue
        values = column.astype(float).to_numpy()
        value = float(row[name])
        rows.append({
            "feature": name, "value": value, "median": float(np.nanmedian(values)),
            "p90": float(np.nanpercentile(values, 90)),
            "percentile": float(100 * (np.mean(values < value) + 0.5 * np.mean(values == value))),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=["feature", "value", "median", "p90", "percentile"])


def _score(model_path: str, kind: str, population: pd.DataFrame, key: str, entity: str):
    from workbench.explain import entity_waterfall, explain_tabular
    from workbench.models import load_entity_model
    from workbench.models.artifacts import model_tag

    if not str(model_path).strip():
        if kind == "account":
            return None, None, ("Accounts are judged by the behaviour analytics on "
                                "authentication events: see the alerts naming it.")  # fmt: skip
        return None, None, "No model was given (parameter model), so there is no score."
    path = Path(model_path).expanduser()
    if not path.is_dir():
        raise InputError(f"model folder {path} does not exist")
    model, artifact = load_entity_model(path)
    trained_on = artifact.features.get("entity")
    if artifact.card.get("kind") != "tabular" or trained_on != kind:
        return (
            None,
            None,
            (
                f"The model is a {artifact.card.get('kind')} model of {trained_on} entities; "
                f"scores and SHAP here need a tabular model of {kind} entities."
            ),
        )
    X = population[list(model.feature_names_)]
    scores = model.score_1_99(X)
    at = int(np.flatnonzero(population[key].astype(str).to_numpy() == entity)[0])
    probability = float(model.predict_bad_proba(X.iloc[[at]])[0])
    score = {
        "model": model_tag(artifact.card, path.name),
        "probability": probability,
        "score": int(scores[at]),
        "score_share_below": float(np.mean(scores <= scores[at])),
    }
    explanation = explain_tabular(model, X.iloc[[at]], instance_names=[entity])
    return score, entity_waterfall(explanation, 0), ""


def investigate(
    entity: str,
    entity_kind: str = "ip",
    start: str | dt.datetime = "-24h",
    end: str | dt.datetime = "now",
    model: str = "",
    limit: int = 20,
    text_model: str = "",
    heatmaps: int = 3,
    store: Store | None = None,
) -> Investigation:
    """Investigate one entity over a window and record the verdict's numbers.

    Parameters
    ----------
    entity : str
        The IP address, ASN number, JA4 fingerprint, user agent or account name.
    entity_kind : {"ip", "asn", "ja4", "user_agent", "account"}, default "ip"
    start, end : str or datetime, default "-24h", "now"
        The window: ISO 8601 or relative (``-24h``, ``now``).
    model : str, default ""
        A tabular model folder of the same entity kind; ``""`` skips scores and SHAP.
    limit : int, default 20
        Sample rows and alerts shown, and related entities per relation (1 to 1000).
    text_model : str, default ""
        A char-CNN model folder: the first ``heatmaps`` sample requests are explained per
        character; ``""`` for none (accounts have no request text).
    heatmaps : int, default 3
        Sample requests explained with ``text_model`` (0 to 20).
    store : Store, optional
        Query this store; by default the configured one is opened for the queries only.

    Returns
    -------
    Investigation
        The data, with methods returning its figures and tables.

    Raises
    ------
    InputError
        Unknown kind, empty entity, bad window or limit, no activity from the entity, or a
        missing model folder.
    """
    source = resolve_source(entity_kind)
    value = entity_value(entity_kind, entity)
    text = str(value)
    first, last = time_window(start, end)
    if not 1 <= int(limit) <= 1000:
        raise InputError(f"limit must be between 1 and 1000, got {limit}")
    if store is None:
        with report_store() as opened:
            return investigate(text, entity_kind, first, last, model, limit, text_model,
                               heatmaps, store=opened)  # fmt: skip
    from workbench.features import build_entity_features, entity_series

    window = {"start": first, "end": last}
    population = build_entity_features(store, entity_kind, first, last)
    percentiles = _percentiles(population, source.key, text, source.unit)
    width = bucket_seconds_for(first, last)
    timeline = entity_series(store, entity_kind, value, first, last, bucket=width)
    timeline["bucket"] = as_utc_times(timeline["bucket"])
    samples = newest_rows(store, entity_kind, text, window, int(limit))
    related = related_entities(store, entity_kind, text, window, int(limit))
    alerts = alerts_naming(store, text, window, int(limit))
    note_sensitive(account_names(entity_kind, text, samples, related, alerts))
    score, explanation, note = _score(model, entity_kind, population, source.key, text)
    if source.table == "http_requests":
        explained = request_heatmaps(text_model, samples, heatmaps)
    else:
        explained = RequestHeatmaps(note="Accounts have no request text to explain per character.")
    report = Investigation(
        kind=entity_kind, entity=text, start=first, end=last, timeline=timeline,
        bucket_seconds=width, percentiles=percentiles, population=len(population),
        samples=samples, related=related, alerts=alerts, score=score, explanation=explanation,
        model_note=note, heatmaps=explained,
    )  # fmt: skip
    rows = timeline["events" if source.unit == "events" else "requests"]
    extreme = percentiles.loc[percentiles["percentile"] >= EXTREME_PERCENTILE, "feature"]
    report.verdict = {
        source.unit: int(rows.sum()),
        "extreme_features": sorted(extreme.tolist()),
        "score": None if score is None else score["score"],
        "flagged": None if score is None else score["score"] < _FLAG_BELOW,
        "alerts": len(alerts),
        "related_entities": int(related["related_entity"].nunique()),
    }
    v = report.verdict
    record(
        **{source.unit: v[source.unit]},
        extreme_features=len(v["extreme_features"]),
        bot_score=v["score"],
        flagged=v["flagged"],
        alerts=v["alerts"],
        related_entities=v["related_entities"],
    )
    active = timeline.loc[rows > 0, "bucket"]
    if not active.empty:  # the buckets the entity was active in
        record_context(data_first=active.min(), data_last=active.max())
    if score is not None:
        record_context(model_version=score["model"])
    return report
