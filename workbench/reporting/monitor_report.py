"""The monitoring report: drift of data and scores between two windows, performance, trends.

Everything is measured by :mod:`workbench.monitor` (PSI, KS and Jensen–Shannon in ClickHouse,
performance as labels arrive, calibration drift, the ``monitoring`` history); this module
runs those checks, keeps their results in the ``monitoring`` table as ``wb monitor`` does
(``write=True``, so later runs show trends), and presents them. Histograms are redrawn from
the binned shares the drift check returns, not recomputed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from workbench.errors import InputError
from workbench.features.registry import resolve_entity
from workbench.monitor import (
    CalibrationReport,
    DriftReport,
    Window,
    calibration_drift,
    drift_report,
    monitoring_history,
    performance_over_time,
    trend,
    write_monitoring,
)
from workbench.monitor.performance import TARGETS, TRUTHS
from workbench.reporting.access import report_store
from workbench.reporting.record import record, record_context
from workbench.store import Store
from workbench.store.identifiers import check_identifier
from workbench.timespec import format_time, parse_time
from workbench.viz import SafeHTML, concat, html_table, key_value_table, paragraph
from workbench.viz.figures import TEMPLATE, plot_label

_COLORS = {"none": "#607d8b", "minor": "#f9a825", "major": "#c62828"}
_REF, _CUR = "#90a4ae", "#c62828"
_COLUMNS = ["group", "subject", "kind", "psi", "ks", "js", "p_value", "severity",
            "n_eff_reference", "n_eff_current"]  # fmt: skip
_COUNT_SQL = (
    "SELECT {w} AS window, count() AS rows, uniqExact({keys}) AS entities, "
    "min({t}) AS first, max({t}) AS last FROM {table} "
    "WHERE {t} >= {{{p}_start:DateTime64(3, 'UTC')}} AND {t} < {{{p}_end:DateTime64(3, 'UTC')}}"
)


@dataclass
class MonitorReport:
    """Monitoring of a current window against a reference, with tables and figures.

    Attributes
    ----------
    reference, current : Window
        The windows (UTC, end exclusive).
    counts : pandas.DataFrame
        Per window: ``rows`` of the entity's table, ``entities``, ``first``, ``last``.
    drift : DriftReport
        Drift of every entity feature, request column and (with a model) the score.
    model, version : str
        The model and version whose scores were checked (``""`` when none).
    performance : pandas.DataFrame or None
        Performance per period over both windows (with a model).
    calibration : CalibrationReport or None
        Calibration drift between the windows (with a model).
    history : pandas.DataFrame
        Past drift PSI rows of the ``monitoring`` table for the compared groups.
    written : int
        Rows this run wrote to ``monitoring``.
    notes : list of str
        Things to know when reading the report.
    top : int
        Most drifted columns drawn.
    """

    reference: Window
    current: Window
    counts: pd.DataFrame
    drift: DriftReport
    model: str = ""
    version: str = ""
    performance: pd.DataFrame | None = None
    calibration: CalibrationReport | None = None
    history: pd.DataFrame = field(default_factory=pd.DataFrame)
    written: int = 0
    notes: list[str] = field(default_factory=list)
    top: int = 6
    bucket: str = "day"

    @property
    def features(self) -> pd.DataFrame:
        """Drift rows of entity features and request columns (no scores), largest PSI first."""
        res = self.drift.results
        return res[~res["group"].str.startswith("scores of ")].sort_values("psi", ascending=False)

    @property
    def scores(self) -> pd.DataFrame:
        """Drift rows of model scores."""
        return self.drift.results[self.drift.results["group"].str.startswith("scores of ")]

    @property
    def headline(self) -> dict[str, Any]:
        """The numbers recorded for the index: columns checked, minor, major, score PSI, verdict."""
        sev = self.features["severity"]
        score = self.scores["psi"].max() if len(self.scores) else None
        return {"features_checked": len(sev), "minor": int((sev == "minor").sum()),
                "major": int((sev == "major").sum()),
                "score_psi": None if score is None else round(float(score), 6),
                "verdict": self.drift.verdict}  # fmt: skip

    def summary_table(self) -> SafeHTML:
        """Return the windows, entity kind, rows and entities per window and the verdict."""
        c, h = self.counts.set_index("window"), self.headline
        rows = {
            f"{name.capitalize()} window (UTC)": (
                f"{format_time(w.start)} \u2192 {format_time(w.end)}: {int(c.loc[name, 'rows']):,}"
                f" rows, {int(c.loc[name, 'entities']):,} {self.drift.entity} entities"
            )
            for name, w in (("reference", self.reference), ("current", self.current))
        }
        rows |= {
            "Entity kind (weighting)": f"{self.drift.entity} ({self.drift.weight})",
            "Columns checked (features and request columns)": h["features_checked"],
            "Minor / major drift": f"{h['minor']} / {h['major']}",
            "Model scores": f"{self.model} {self.version}".strip() or "no model given",
            "Score PSI": "-" if h["score_psi"] is None else f"{h['score_psi']:.4f}",
            "Verdict": h["verdict"],
            "Kept in the monitoring table": f"{self.written} rows (run {self.drift.run_id})",
        }
        return concat(key_value_table(rows), self.notes_html())

    def notes_html(self) -> SafeHTML:
        """Return the notes as paragraphs (escaped)."""
        return concat(*(paragraph(n, "wb-note") for n in [*self.drift.notes, *self.notes]))

    def psi_figure(self) -> go.Figure:
        """Return PSI per feature and request column with the minor and major thresholds."""
        f, t = self.features, self.drift.thresholds
        labels = [_label(g, s) for g, s in zip(f["group"], f["subject"], strict=True)]
        fig = go.Figure(go.Bar(x=f["psi"], y=labels, orientation="h",
                               marker_color=[_COLORS[s] for s in f["severity"]],
                               customdata=f["severity"], hovertemplate="%{y}: PSI %{x:.4f} "
                               "(%{customdata})<extra></extra>"))  # fmt: skip
        for value, name in ((t.minor, "minor"), (t.major, "major")):
            fig.add_vline(x=value, line_dash="dash", line_color=_COLORS[name],
                          annotation_text=f"{name} {value:g}")  # fmt: skip
        fig.update_yaxes(autorange="reversed", type="category", automargin=True)
        fig.update_xaxes(title_text="population stability index (PSI)")
        return _layout(fig, "Drift per column (PSI)", max(320, 80 + 18 * len(f)))

    def drift_table(self) -> SafeHTML:
        """Return PSI, KS, JS, the noise p-value and severity of every column (escaped)."""
        frame = self.drift.to_frame()[_COLUMNS].sort_values("psi", ascending=False)
        return html_table(frame, max_rows=len(frame))

    def histogram_figure(self) -> go.Figure | SafeHTML:
        """Return reference and current shares per bin of the most drifted columns."""
        return _histograms(self.features.head(self.top), "Most drifted columns: reference "
                           "against current (share per bin)")  # fmt: skip

    def score_figure(self) -> go.Figure | SafeHTML:
        """Return the score distribution in both windows, or why there is none."""
        if self.scores.empty:
            why = "no model was given (parameter model)" if not self.model else (
                f"no scores of {self.model} {self.version} in both windows")  # fmt: skip
            return paragraph(f"No score drift: {why}.", "wb-note")
        return _histograms(self.scores, "Score distribution (1 = automated, 99 = human)")

    def score_table(self) -> SafeHTML:
        """Return the score drift rows (one per model version)."""
        frame = self.drift.to_frame()
        frame = frame[frame["group"].str.startswith("scores of ")]
        return html_table(frame[["model", "version", *_COLUMNS[3:]]])

    def performance_figure(self) -> go.Figure | SafeHTML:
        """Return PR-AUC, precision, recall, label coverage and ECE per period."""
        frame = self.performance
        if frame is None or frame.empty or not frame["labelled"].sum():
            return paragraph("No performance over time: no labelled scores in the windows "
                             "(parameters model and truth).", "wb-note")  # fmt: skip
        fig = go.Figure()
        for (m, v), part in frame.groupby(["model", "version"]):
            for metric in ("pr_auc", "precision", "recall", "coverage", "ece"):
                fig.add_trace(go.Scatter(x=part["period"], y=part[metric], mode="lines+markers",
                                         name=plot_label(f"{metric} {m} {v}", 50)))  # fmt: skip
        fig.update_yaxes(range=[0, 1.02])
        return _layout(fig, "Performance over time (labels as known now)")

    def performance_table(self) -> SafeHTML:
        """Return performance per period (escaped)."""
        if self.performance is None:
            return paragraph("No model was given (parameter model).", "wb-note")
        return html_table(self.performance, max_rows=200)

    def calibration_figure(self) -> go.Figure | SafeHTML:
        """Return the reliability curves of both windows, or why there are none."""
        cal = self.calibration
        if cal is None or cal.curves.empty:
            return paragraph("No calibration drift: no labelled scores in the windows.", "wb-note")
        fig = go.Figure()
        for (m, v, w), part in cal.curves.groupby(["model", "version", "window"]):
            fig.add_trace(go.Scatter(x=part["mean_predicted"], y=part["fraction_bad"],
                                     mode="lines+markers", name=plot_label(f"{w} {m} {v}", 50),
                                     line_color=_REF if w == "reference" else _CUR))  # fmt: skip
        fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect",
                                 line={"dash": "dot", "color": "#9e9e9e"}))  # fmt: skip
        fig.update_xaxes(title_text="mean predicted probability", range=[0, 1])
        fig.update_yaxes(title_text="observed fraction bad", range=[0, 1.02])
        return _layout(fig, "Calibration: reliability curves")

    def calibration_table(self) -> SafeHTML:
        """Return the ECE of each window, its rise and severity (escaped)."""
        if self.calibration is None:
            return paragraph("No model was given (parameter model).", "wb-note")
        notes = [paragraph(n, "wb-note") for n in self.calibration.notes]
        return concat(html_table(self.calibration.results), *notes)

    def trend_figure(self) -> go.Figure | SafeHTML:
        """Return the PSI of today's most drifted columns over the past monitoring runs."""
        if self.history.empty:
            return paragraph("No drift results in the monitoring table yet.", "wb-note")
        fig = go.Figure()
        for _, rec in self.features.head(self.top).iterrows():
            part = self.history[(self.history["Scope"] == rec["group"])
                                & (self.history["Subject"] == rec["subject"])]  # fmt: skip
            fig.add_trace(go.Scatter(x=part["RunTime"], y=part["Value"], mode="lines+markers",
                                     name=_label(rec["group"], rec["subject"])))  # fmt: skip
        fig.add_hline(y=self.drift.thresholds.major, line_dash="dash", line_color=_COLORS["major"])
        fig.update_xaxes(title_text="run time (UTC)")
        fig.update_yaxes(title_text="PSI")
        return _layout(fig, "PSI of the most drifted columns over past runs")

    def trend_table(self, last: int = 5) -> SafeHTML:
        """Return the last runs' PSI per column, latest severity first (escaped)."""
        table = trend(self.history, last).drop(columns=["Kind", "Metric"], errors="ignore")
        return html_table(table.sort_values("t-0", ascending=False), max_rows=60)


def _label(group: str, subject: str) -> str:
    return plot_label(subject if group.endswith("features") else f"{subject} ({group})", 40)


def _layout(fig: go.Figure, title: str, height: int = 380) -> go.Figure:
    fig.update_layout(title={"text": plot_label(title, None), "x": 0.0}, template=TEMPLATE,
                      height=height, margin={"l": 10, "r": 10, "t": 60, "b": 10})  # fmt: skip
    return fig


def _bins(details: dict[str, Any]) -> tuple[list[str], list[float], list[float]]:
    """Bin labels and both windows' shares from a drift row's ``details``."""
    ref, cur = list(details["reference"]), list(details["current"])
    if "categories" in details:
        return [plot_label(c, 24) for c in details["categories"]], ref, cur
    edges = [f"{e:.4g}" for e in details["edges"]]
    inner = [f"({a}, {b}]" for a, b in zip(edges, edges[1:], strict=False)]
    labels = [f"\u2264 {edges[0]}", *inner, f"> {edges[-1]}"] if edges else ["all"]
    labels.append("missing")
    if not (ref[-1] or cur[-1]):  # no missing values: drop the bin
        labels, ref, cur = labels[:-1], ref[:-1], cur[:-1]
    return labels, ref, cur


def _histograms(rows: pd.DataFrame, title: str) -> go.Figure | SafeHTML:
    if rows.empty:
        return paragraph("No columns were compared.", "wb-note")
    cols = 1 if len(rows) == 1 else 2
    n_rows = -(-len(rows) // cols)
    names = [f"{_label(g, s)}: PSI {p:.3f} ({v})" for g, s, p, v in
             zip(rows["group"], rows["subject"], rows["psi"], rows["severity"], strict=True)]  # fmt: skip
    fig = make_subplots(rows=n_rows, cols=cols, subplot_titles=names, vertical_spacing=0.5 / n_rows)
    for i, details in enumerate(rows["details"]):
        labels, ref, cur = _bins(details)
        at = {"row": i // cols + 1, "col": i % cols + 1}
        for name, shares, color in (("reference", ref, _REF), ("current", cur, _CUR)):
            fig.add_trace(go.Bar(x=labels, y=shares, name=name, marker_color=color,
                                 legendgroup=name, showlegend=i == 0), **at)  # fmt: skip
        fig.update_xaxes(type="category", **at)
    fig.update_layout(barmode="group")
    fig.update_annotations(font_size=11)
    return _layout(fig, title, 120 + 260 * n_rows)


def _counts(store: Store, entity: str, reference: Window, current: Window) -> pd.DataFrame:
    kind = resolve_entity(entity)
    keys = ", ".join(check_identifier(k) for k in kind.keys)
    names = {"t": check_identifier(kind.time_column), "table": check_identifier(kind.table),
             "keys": f"tuple({keys})"}  # fmt: skip
    sql = "\nUNION ALL\n".join(_COUNT_SQL.format(w=f"{{{p}:String}}", p=p, **names)
                               for p in ("ref", "cur"))  # fmt: skip
    params = {"ref": "reference", "cur": "current", "ref_start": reference.start,
              "ref_end": reference.end, "cur_start": current.start, "cur_end": current.end}  # fmt: skip
    frame = store.query_df(sql, params).set_index("window").loc[["reference", "current"]]
    for name, w in (("reference", reference), ("current", current)):
        if not int(frame.loc[name, "rows"]):
            raise InputError(f"the {name} window ({w}) has no rows in {kind.table}: nothing to "
                             "compare; check the window parameters")  # fmt: skip
    return frame.reset_index()


def _resolve_model(model: str, score_windows: bool) -> tuple[str, str | None]:
    from workbench.models.artifacts import resolve_model

    text = str(model).strip()
    folder = Path(text).expanduser()
    if score_windows and not folder.is_dir():
        raise InputError(f"score_windows needs a model folder (parameter model), got {text!r}")
    if "/" in text and not folder.is_dir():
        raise InputError(f"model folder {folder} does not exist")
    text = str(folder) if text and folder.is_dir() else text
    name, version = resolve_model(text or None, None)
    return name or "", version


def _model_checks(store, report: MonitorReport, truth: str, target: str) -> None:
    first = min(report.reference.start, report.current.start)
    last = max(report.reference.end, report.current.end)
    days = (last - first) / dt.timedelta(days=1)
    bucket = "hour" if days <= 2 else "day" if days <= 90 else "week"
    args = (report.model, report.version, truth, target)
    report.bucket = bucket
    report.performance = performance_over_time(store, first, last, *args, bucket=bucket)
    report.calibration = calibration_drift(store, report.reference, report.current, *args)


def monitor_report(
    reference_start: str | dt.datetime = "-48h",
    reference_end: str | dt.datetime = "-24h",
    start: str | dt.datetime = "-24h",
    end: str | dt.datetime = "now",
    entity: str = "ip",
    model: str = "",
    weight: str = "entities",
    score_windows: bool = False,
    truth: str = "labels",
    target: str = "bot",
    write: bool = True,
    top: int = 6,
    store: Store | None = None,
) -> MonitorReport:
    """Check drift, performance and calibration between two windows and record the verdict.

    Parameters
    ----------
    reference_start, reference_end : str or datetime, default "-48h", "-24h"
        The reference window: ISO 8601 or relative (``-48h``, ``now``).
    start, end : str or datetime, default "-24h", "now"
        The current window.
    entity : str, default "ip"
        Entity kind whose features are compared (``ip``, ``asn``, ``ja4`` ...).
    model : str, default ""
        A model folder or a model name as in ``scores``; ``""`` checks no scores.
    weight : {"entities", "requests"}, default "entities"
        Weigh each entity once, or by its requests.
    score_windows : bool, default False
        Score both windows with the model folder first (writes ``scores`` as ``wb score``
        does, replacing that version's rows in the windows).
    truth : {"labels", "ground_truth"}, default "labels"
        Labels for performance and calibration: analysts' verdicts, or synthetic ground truth.
    target : {"bot", "attack"}, default "bot"
        What is positive in ground truth.
    write : bool, default True
        Keep the results in the ``monitoring`` table, as ``wb monitor drift`` does.
    top : int, default 6
        Most drifted columns drawn (1 to 20).
    store : Store, optional
        Query this store; by default the configured one is opened for the queries only.

    Returns
    -------
    MonitorReport
        The results, with methods returning their tables and figures.

    Raises
    ------
    InputError
        Bad windows or options, an empty window, or ``score_windows`` without a model folder.
    """
    now = dt.datetime.now(dt.UTC)
    times = [parse_time(v, now, n) for v, n in ((reference_start, "reference_start"),
             (reference_end, "reference_end"), (start, "start"), (end, "end"))]  # fmt: skip
    reference = Window.of(times[0], times[1], "reference")
    current = Window.of(times[2], times[3], "current")
    if truth not in TRUTHS or target not in TARGETS:
        raise InputError(f"truth must be one of {', '.join(TRUTHS)} and target one of "
                         f"{', '.join(TARGETS)}, got {truth!r} and {target!r}")  # fmt: skip
    if isinstance(top, bool) or not 1 <= int(top) <= 20:
        raise InputError(f"top must be between 1 and 20, got {top!r}")
    kind = resolve_entity(entity).name
    name, version = _resolve_model(model, score_windows)
    if store is None:
        with report_store() as opened:
            return monitor_report(reference.start, reference.end, current.start, current.end,
                                  kind, model, weight, score_windows, truth, target, write,
                                  int(top), store=opened)  # fmt: skip
    counts = _counts(store, kind, reference, current)
    notes = []
    if score_windows:
        from workbench.models.scoring import score_requests

        for w in (reference, current):
            done = score_requests(store, model, w.start, w.end, progress=False)
            notes.append(
                f"scored the {w} window with {done.model} {done.version}: {done.rows} rows"
            )
    drift = drift_report(store, reference, current, entity=kind, weight=weight,
                         scores=bool(name), model=name or None, version=version)  # fmt: skip
    report = MonitorReport(reference, current, counts, drift, name, version or "",
                           notes=notes, top=int(top))  # fmt: skip
    if name:
        _model_checks(store, report, truth, target)
    if write:
        report.written = write_monitoring(store, drift)
        for extra in (report.calibration, report.performance):
            empty = extra is None or (extra.results if hasattr(extra, "results") else extra).empty
            if not empty:
                report.written += write_monitoring(store, extra, drift.run_id, report.bucket)
    history = monitoring_history(store, kind="drift", metric="psi")
    report.history = history[history["Scope"].isin(set(drift.results["group"]))]
    record(**report.headline)
    record_context(data_first=counts["first"].min(), data_last=counts["last"].max())
    if name:
        record_context(model_version=f"{name}@{version}" if version else name)
    return report
