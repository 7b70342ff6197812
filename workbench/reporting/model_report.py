"""The model report: one trained entity model, its metrics, curves, errors and explanations.

``metrics.json`` holds summary numbers (AUCs, the confusion matrix at the flag threshold,
the reliability curve, recall per actor), not raw predictions. ROC and precision–recall
curves and global SHAP importance need predictions, so :func:`model_report` rebuilds the
model's test split from the store (same window, entity, split rule and seed as the card
records) and re-scores it; when the store no longer holds that data the report says so and
shows what ``metrics.json`` has.

The "Active learning" section runs :func:`workbench.labels.experiment.run_experiment` at
report time on the model's own data (window, entity, features and ground-truth rule of the
card): a simulated analyst labels entities with each strategy, and PR-AUC on held-out
entities is drawn against the number of labels. It is bounded (seeds, rounds and labels per
round are template parameters; the default is 3 x 4 strategies x 9 small LightGBM fits, a
few seconds on ~2,000 entities) and deterministic for the same data and parameters. When
it cannot run (no ground truth in the store, one class, too few entities) the report says
why instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from sklearn.metrics import precision_recall_curve, roc_curve

from workbench.errors import InputError, StoreError
from workbench.reporting.access import report_store
from workbench.reporting.record import record, record_context
from workbench.store import Store
from workbench.viz import SafeHTML, concat, html_table, importance_bar, key_value_table, paragraph
from workbench.viz.figures import plot_label, titled_layout

if TYPE_CHECKING:
    from workbench.labels.experiment import LearningCurves
    from workbench.models.entity_data import EntitySplit

#: Metrics compared with the baseline and with the previous version, in this order.
KEY_METRICS = ("roc_auc", "pr_auc", "precision", "recall", "f1", "fpr_humans", "ece")
_MODEL_COLOR, _BASE_COLOR = "#c62828", "#607d8b"
_MAX_EXPLAINED = 2000


@dataclass
class ModelReport:
    """One trained model, with methods returning its tables and figures.

    Attributes
    ----------
    folder : Path
        The model folder.
    card, metrics, features : dict
        The folder's ``card.json``, ``metrics.json`` and ``features.json``.
    test : pandas.DataFrame or None
        The re-scored test split (``y``, ``actor``, ``p_model``, ``p_baseline``), or None.
    rescore_note : str
        How the test split was obtained, or why it could not be.
    importance : pandas.DataFrame or None
        Global SHAP importance over the test split (``feature``, ``mean_abs_shap`` ...).
    previous : dict or None
        ``{"folder", "card", "metrics"}`` of the previous version, when one was given.
    curves : LearningCurves or None
        The active-learning experiment on the model's data, or None.
    curves_note : str
        How the curves were made, or why they could not be.
    """

    folder: Path
    card: dict[str, Any]
    metrics: dict[str, Any]
    features: dict[str, Any]
    test: pd.DataFrame | None = None
    rescore_note: str = ""
    importance: pd.DataFrame | None = None
    previous: dict[str, Any] | None = field(default=None)
    curves: LearningCurves | None = None
    curves_note: str = ""

    @property
    def model_test(self) -> dict[str, Any]:
        """Return the model's test metrics from ``metrics.json``."""
        return self.metrics.get("model", {}).get("test", {}) or {}

    @property
    def baseline_test(self) -> dict[str, Any]:
        """Return the baseline's test metrics from ``metrics.json`` (empty when none)."""
        return (self.metrics.get("baseline") or {}).get("test", {}) or {}

    def summary_table(self) -> SafeHTML:
        """Return the model's identity, data window, split and targets as a table."""
        window = self.card.get("data_window", {})
        targets = self.metrics.get("targets", {})
        rows = {
            "Model": self.card.get("name", self.folder.name),
            "Kind": self.card.get("kind"),
            "Task": self.card.get("task"),
            "Content hash": str(self.card.get("content_hash", ""))[:16],
            "Created (UTC)": self.card.get("created_at"),
            "Git commit": (self.card.get("git") or {}).get("commit"),
            "Data window (UTC)": f"{window.get('start')} \u2192 {window.get('end')}",
            "Entity": window.get("entity"),
            "Split": f"{window.get('split')} (seed {self.card.get('seed')})",
            "Entities train / validation / test": (
                f"{window.get('train')} / {window.get('validation')} / {window.get('test')}"
            ),
            "Features": len(self.features.get("features", [])),
            "Labels": _labels_text(self.metrics.get("labels") or self.card.get("labels") or {}),
            "Targets met": targets.get("met"),
            "ROC, precision-recall and SHAP": self.rescore_note,
        }
        return key_value_table(rows)

    def metrics_table(self) -> SafeHTML:
        """Return the test metrics of the model against the rule baseline."""
        rows = [
            {
                "metric": name,
                "model": _num(self.model_test.get(name)),
                "baseline": _num(self.baseline_test.get(name)),
            }
            for name in KEY_METRICS
        ]
        return html_table(pd.DataFrame(rows))

    def roc_figure(self) -> go.Figure | SafeHTML:
        """Return ROC curves of the model and the baseline on the test split."""
        if self.test is None:
            return paragraph(f"No ROC curve: {self.rescore_note}", "wb-note")
        fig = go.Figure()
        for column, name, color in self._curves():
            fpr, tpr, _ = roc_curve(self.test["y"], self.test[column])
            fig.add_trace(go.Scatter(x=fpr, y=tpr, mode="lines", name=name, line_color=color))
        fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance",
                                 line={"dash": "dot", "color": "#9e9e9e"}))  # fmt: skip
        fig.update_xaxes(title_text="false positive rate", range=[0, 1])
        fig.update_yaxes(title_text="true positive rate", range=[0, 1.02])
        return titled_layout(fig, "ROC curve (test split)")

    def pr_figure(self) -> go.Figure | SafeHTML:
        """Return precision–recall curves of the model and the baseline on the test split."""
        if self.test is None:
            return paragraph(f"No precision-recall curve: {self.rescore_note}", "wb-note")
        fig = go.Figure()
        for column, name, color in self._curves():
            precision, recall, _ = precision_recall_curve(self.test["y"], self.test[column])
            fig.add_trace(go.Scatter(x=recall, y=precision, mode="lines", name=name,
                                     line_color=color, line_shape="hv"))  # fmt: skip
        fig.update_xaxes(title_text="recall", range=[0, 1.02])
        fig.update_yaxes(title_text="precision", range=[0, 1.02])
        return titled_layout(fig, "Precision-recall curve (test split)")

    def calibration_figure(self) -> go.Figure:
        """Return the reliability curves stored in ``metrics.json`` (model and baseline)."""
        fig = go.Figure()
        for metrics, name, color in ((self.model_test, "model", _MODEL_COLOR),
                                     (self.baseline_test, "baseline", _BASE_COLOR)):  # fmt: skip
            bins = [b for b in metrics.get("reliability_curve", []) if b.get("count")]
            if bins:
                fig.add_trace(go.Scatter(
                    x=[b["mean_predicted"] for b in bins], y=[b["fraction_bad"] for b in bins],
                    mode="lines+markers", name=name, line_color=color,
                    customdata=[b["count"] for b in bins],
                    hovertemplate="predicted %{x:.2f}<br>observed %{y:.2f}<br>%{customdata} entities",
                ))  # fmt: skip
        fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect",
                                 line={"dash": "dot", "color": "#9e9e9e"}))  # fmt: skip
        fig.update_xaxes(title_text="mean predicted probability (automated)", range=[0, 1])
        fig.update_yaxes(title_text="observed fraction automated", range=[0, 1.02])
        return titled_layout(fig, "Calibration (reliability curve, test split)")

    def confusion_figure(self) -> go.Figure:
        """Return the test confusion matrix at the flag threshold (score below 30)."""
        cm = self.model_test.get("confusion_matrix")
        if not cm:
            raise InputError(f"metrics.json of {self.folder} has no test confusion matrix")
        matrix = np.asarray(cm["matrix"], dtype=np.int64)
        rows = [f"true {plot_label(v, 20)}" for v in cm["labels"]]
        cols = [plot_label(v, 20) for v in cm["columns"]]
        fig = go.Figure(go.Heatmap(z=matrix, x=cols, y=rows, colorscale="Blues",
                                   text=matrix, texttemplate="%{text}", showscale=False,
                                   hovertemplate="%{y}, %{x}: %{z}<extra></extra>"))  # fmt: skip
        fig.update_yaxes(autorange="reversed", type="category")
        fig.update_xaxes(type="category")
        return titled_layout(
            fig, f"Confusion matrix (threshold {self.model_test.get('threshold')})", 320
        )

    def actor_frame(self) -> pd.DataFrame:
        """Return recall and flag rate per actor for the model and the baseline."""
        model = self.model_test.get("per_actor", {})
        base = self.baseline_test.get("per_actor", {})
        rows = [
            {
                "actor": actor or "(none)",
                "entities": values.get("n"),
                "automated": values.get("n_bad"),
                "recall": values.get("recall"),
                "flag_rate": values.get("flag_rate"),
                "baseline_recall": (base.get(actor) or {}).get("recall"),
                "baseline_flag_rate": (base.get(actor) or {}).get("flag_rate"),
            }
            for actor, values in model.items()
        ]
        return pd.DataFrame(rows, columns=["actor", "entities", "automated", "recall", "flag_rate",
                                           "baseline_recall", "baseline_flag_rate"])  # fmt: skip

    def actor_figure(self) -> go.Figure:
        """Return recall per actor (flag rate for humans, where recall is undefined)."""
        frame = self.actor_frame()
        labels = [plot_label(a, 40) for a in frame["actor"]]
        fig = go.Figure()
        for prefix, name, color in (
            ("", "model", _MODEL_COLOR),
            ("baseline_", "baseline", _BASE_COLOR),
        ):
            value = frame[f"{prefix}recall"].astype("Float64").fillna(frame[f"{prefix}flag_rate"])
            fig.add_trace(go.Bar(x=value.astype(float), y=labels, orientation="h", name=name,
                                 marker_color=color,
                                 hovertemplate="%{y}: %{x:.2f}<extra>" + name + "</extra>"))  # fmt: skip
        fig.update_yaxes(autorange="reversed", type="category", automargin=True)
        fig.update_xaxes(title_text="recall (flag rate for humans)", range=[0, 1.02])
        fig.update_layout(barmode="group")
        return titled_layout(fig, "Recall per actor (test split)", max(260, 80 + 40 * len(frame)))

    def actor_table(self) -> SafeHTML:
        """Return recall and flag rate per actor as a table (escaped)."""
        return html_table(self.actor_frame())

    def importance_figure(self) -> go.Figure | SafeHTML:
        """Return global SHAP importance over the test split."""
        if self.importance is None:
            return paragraph(f"No SHAP importance: {self.rescore_note}", "wb-note")
        return importance_bar(self.importance, max_features=20,
                              title="Global SHAP importance (mean |SHAP|, test split)")  # fmt: skip

    def comparison_table(self) -> SafeHTML:
        """Return this version's test metrics next to the previous version's."""
        if self.previous is None:
            return paragraph("No previous version was given (parameter previous).", "wb-note")
        before = self.previous["metrics"].get("model", {}).get("test", {}) or {}
        rows = []
        for name in KEY_METRICS:
            now, then = _num(self.model_test.get(name)), _num(before.get(name))
            change = None if now is None or then is None else round(now - then, 4)
            rows.append({"metric": name, "this version": now, "previous": then, "change": change})
        card = self.previous["card"]
        window = card.get("data_window", {})
        head = key_value_table({
            "Previous model": card.get("name"),
            "Previous content hash": str(card.get("content_hash", ""))[:16],
            "Previous data window (UTC)": f"{window.get('start')} \u2192 {window.get('end')}",
        })  # fmt: skip
        return concat(head, html_table(pd.DataFrame(rows)))

    def learning_curve_figure(self) -> go.Figure | SafeHTML:
        """Return mean PR-AUC against the number of labels per strategy (or a note)."""
        if self.curves is None:
            return paragraph(f"No learning curves: {self.curves_note}", "wb-note")
        fig = self.curves.figure()
        fig.update_xaxes(title_text="labels (simulated analyst, ground truth)")
        return titled_layout(
            fig, "Active learning: PR-AUC on held-out entities against labels", 420
        )

    def learning_curve_table(self) -> SafeHTML:
        """Return PR-AUC per strategy at each label count (mean over seeds), or a note."""
        if self.curves is None:
            return paragraph(f"No learning curves: {self.curves_note}", "wb-note")
        table = self.curves.table()
        for column in table.columns[1:]:
            table[column] = table[column].round(4)
        table = table.rename(columns={"n_labels": "labels"})
        return concat(paragraph(self.curves_note, "wb-note"), html_table(table))

    def learning_curve_headline(self) -> SafeHTML:
        """Return the headline of the experiment: full-data PR-AUC, labels to reach it."""
        if self.curves is None:
            return paragraph(f"No learning curves: {self.curves_note}", "wb-note")
        head = self.curves.headline()
        share = f"{round(100 * head['share'])} %"
        reached = head["labels_to_reach"]
        rows = {
            "PR-AUC with every pool entity labelled": head["full_pr_auc"],
            f"Best strategy (fewest labels to {share} of it)": head["best_strategy"],
            f"Labels it needs to reach {share}": (
                reached if reached is not None else f"not reached within {head['label_budget']}"
            ),
            **{
                f"PR-AUC at {head['label_budget']} labels, {name}": value
                for name, value in head["pr_auc_at_budget"].items()
            },
            "Share of automated entities (chance PR-AUC)": round(self.curves.prevalence, 4),
        }
        return key_value_table(rows)

    def _curves(self) -> list[tuple[str, str, str]]:
        curves = [("p_model", "model", _MODEL_COLOR)]
        if "p_baseline" in self.test.columns:
            curves.append(("p_baseline", "baseline", _BASE_COLOR))
        return curves


def _labels_text(labels: dict[str, Any]) -> str:
    source = labels.get("source", "truth")
    if source == "truth":
        return f"ground truth ({labels.get('rule', 'majority')} rule)"
    text = f"{source}: {labels.get('analyst_labels', 0)} analyst labels"
    return text + f", {labels.get('overrode_truth', 0)} overrode the ground truth"


def _num(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if np.isnan(value) else round(value, 4)


def _load(folder: str | Path) -> tuple[Any, Any]:
    from workbench.models import load_entity_model

    path = Path(folder).expanduser()
    if not str(folder).strip():
        raise InputError("model is required: the path of a trained model folder")
    if not path.is_dir():
        raise InputError(f"model folder {path} does not exist")
    model, artifact = load_entity_model(path)
    if artifact.card.get("kind") != "tabular":
        raise InputError(
            f"model_report covers tabular entity models; {path} holds a "
            f"{artifact.card.get('kind')!r} model"
        )
    return model, artifact


def _rescore(
    store: Store, model: Any, artifact: Any
) -> tuple[pd.DataFrame | None, Any, str, EntitySplit | None]:
    """Rebuild the split as training did; score its test side with the model and baseline."""
    from workbench.explain import explain_tabular
    from workbench.models import RuleBaseline
    from workbench.models.entity_data import split_training_frames

    window = artifact.card.get("data_window", {})
    labels = artifact.features.get("labels") or {}
    rule, source = labels.get("rule", "majority"), labels.get("source", "truth")
    try:
        split = split_training_frames(
            store, window["entity"], window["start"], window["end"], window["split"],
            seed=int(artifact.card.get("seed", 0)), features=artifact.features["features"],
            label_rule=rule, labels=source,
        )  # fmt: skip
    except (InputError, StoreError, KeyError) as exc:
        return None, None, f"the test split could not be rebuilt from the store ({exc})", None
    test = split.test[split.test["y"] >= 0]
    if test.empty or test["y"].nunique() < 2:
        note = "the store no longer holds a labelled test split with both classes"
        return None, None, note, split
    expected = window.get("test")
    names = list(model.feature_names_)
    out = pd.DataFrame({
        "y": test["y"].to_numpy(dtype=np.int8),
        "actor": test["actor"].to_numpy() if "actor" in test else "",
        "p_model": model.predict_bad_proba(test[names]),
    })  # fmt: skip
    baseline = artifact.config.get("baseline")
    if baseline:
        out["p_baseline"] = RuleBaseline.from_dict(baseline).predict_bad_proba(test[names])
    explanation = explain_tabular(model, test[names].head(_MAX_EXPLAINED))
    note = f"re-scored {len(out)} test entities rebuilt from the store"
    if expected is not None and int(expected) != len(split.test):
        note += f" (training had {expected}; the data in the window has changed since)"
    return out, explanation, note, split


def _curve_data(
    store: Store, artifact: Any, split: EntitySplit | None = None
) -> tuple[pd.DataFrame, np.ndarray] | str:
    """Return the experiment's inputs for the model's window, entity and features, or why not.

    The rebuilt split of a ground-truth model split by campaign or at random holds every
    entity of the window once: its sides, sorted by key, are the rows
    :func:`~workbench.labels.experiment.experiment_data` would query again, so they are
    reused. Other models (time splits, analyst labels) query the ground truth.
    """
    from workbench.labels.experiment import experiment_data
    from workbench.models.entity_data import feature_columns

    window = artifact.card.get("data_window", {})
    labels = artifact.features.get("labels") or {}
    rule = labels.get("rule", "majority")
    if (
        split is not None
        and labels.get("source", "truth") == "truth"
        and split.how in ("campaign", "random")
        and not split.dropped
    ):
        frame = pd.concat(split.sides().values(), ignore_index=True)
        frame = frame.sort_values(split.keys, kind="stable", ignore_index=True)
        frame = frame[frame["y"] >= 0].reset_index(drop=True)
        return frame[feature_columns(frame, split.keys)], frame["y"].to_numpy(dtype=np.int8)
    try:
        return experiment_data(
            store, window["start"], window["end"], window["entity"],
            artifact.features["features"], rule,
        )  # fmt: skip
    except (InputError, StoreError, KeyError) as exc:
        return f"the model's data could not be read from the store ({exc})"


def _run_curves(
    data: tuple[pd.DataFrame, np.ndarray] | str, settings: dict[str, int]
) -> tuple[LearningCurves | None, str]:
    """Run the bounded experiment on the fetched data; a note instead of an error."""
    from workbench.labels.experiment import run_experiment

    if isinstance(data, str):
        return None, data
    X, y = data
    seeds = tuple(range(int(settings["seeds"])))
    try:
        curves = run_experiment(
            X, y, seeds=seeds, initial=int(settings["initial"]), k=int(settings["k"]),
            rounds=int(settings["rounds"]),
        )  # fmt: skip
    except InputError as exc:
        return None, f"the experiment cannot run on the model's data ({exc})"
    note = (
        f"{len(y)} entities of the model's window with ground truth "
        f"({int(np.sum(y))} automated); per seed ({len(seeds)}), a stratified 30 % is held "
        f"out, the analyst starts with {settings['initial']} labels and adds {settings['k']} "
        f"per round for {settings['rounds']} rounds; mean PR-AUC over seeds"
    )
    return curves, note


def model_report(
    model: str | Path,
    previous: str | Path = "",
    store: Store | None = None,
    *,
    learning_curves: bool = True,
    curve_seeds: int = 3,
    curve_initial: int = 10,
    curve_k: int = 10,
    curve_rounds: int = 8,
) -> ModelReport:
    """Load a trained model, re-score its test split and record its headline numbers.

    Parameters
    ----------
    model : str or Path
        A folder written by :func:`workbench.models.train_tabular`.
    previous : str or Path, default ""
        The previous version's folder, to compare with; ``""`` for none.
    store : Store, optional
        Where the model's training data is; by default the configured store is opened for
        the queries only.
    learning_curves : bool, default True
        Run the active-learning experiment on the model's data (a few seconds).
    curve_seeds : int, default 3
        Seeds of the experiment (0, 1, ...); the table shows the mean over them.
    curve_initial : int, default 10
        Labels the simulated analyst starts with.
    curve_k : int, default 10
        Labels per round.
    curve_rounds : int, default 8
        Query rounds (the largest label count is ``curve_initial + curve_k * curve_rounds``).

    Returns
    -------
    ModelReport
        The model's files and evaluation, with methods returning figures and tables.

    Raises
    ------
    InputError
        When a folder is missing or holds another kind of model.
    ModelIntegrityError
        When a model file changed since it was saved.
    """
    from workbench.explain import global_importance
    from workbench.models.artifacts import model_tag

    fitted, artifact = _load(model)
    before = None
    if str(previous).strip():
        _, old = _load(previous)
        before = {"folder": old.folder, "card": old.card, "metrics": old.metrics}

    def fetch(opened: Store) -> tuple[Any, Any, str, Any]:
        test, explanation, note, split = _rescore(opened, fitted, artifact)
        data = _curve_data(opened, artifact, split) if learning_curves else "not asked for"
        return test, explanation, note, data

    if store is None:
        with report_store() as opened:
            test, explanation, note, data = fetch(opened)
    else:
        test, explanation, note, data = fetch(store)
    settings = {"seeds": curve_seeds, "initial": curve_initial, "k": curve_k,
                "rounds": curve_rounds}  # fmt: skip
    curves, curves_note = _run_curves(data, settings)
    report = ModelReport(
        folder=Path(model),
        card=artifact.card,
        metrics=artifact.metrics,
        features=artifact.features,
        test=test,
        rescore_note=note,
        importance=None if explanation is None else global_importance(explanation),
        previous=before,
        curves=curves,
        curves_note=curves_note,
    )
    mt, bt = report.model_test, report.baseline_test
    record(
        pr_auc=_num(mt.get("pr_auc")),
        roc_auc=_num(mt.get("roc_auc")),
        fpr_humans=_num(mt.get("fpr_humans")),
        ece=_num(mt.get("ece")),
        baseline_pr_auc=_num(bt.get("pr_auc")),
        targets_met=bool(report.metrics.get("targets", {}).get("met")),
        label_source=str((report.metrics.get("labels") or {}).get("source", "truth")),
    )
    if curves is not None:
        head = curves.headline()
        record(
            al_full_pr_auc=head["full_pr_auc"],
            al_best_strategy=head["best_strategy"],
            al_labels_to_95pct=head["labels_to_reach"],
            al_label_budget=head["label_budget"],
            **{f"al_pr_auc_{name}": v for name, v in head["pr_auc_at_budget"].items()},
        )
    window = artifact.card.get("data_window", {})
    record_context(
        model_version=model_tag(artifact.card, Path(model).name),
        data_first=window.get("start"),
        data_last=window.get("end"),
    )
    return report
