"""SHAP explanations for every model kind, each returned as a ``shap.Explanation``."""

from workbench.explain.agnostic import explain_anomaly
from workbench.explain.cnn import CNNExplainer, character_spans, explain_cnn, text_row
from workbench.explain.tree import entity_waterfall, explain_tabular, global_importance

__all__ = [
    "CNNExplainer",
    "character_spans",
    "entity_waterfall",
    "explain_anomaly",
    "explain_cnn",
    "explain_tabular",
    "global_importance",
    "text_row",
]
