"""Analyst labels with provenance, active-learning queues, CSV import and a notebook widget."""

from workbench.labels.experiment import LearningCurves, experiment_from_store, run_experiment
from workbench.labels.importer import ImportResult, import_labels_csv
from workbench.labels.queue import STRATEGIES, build_queue, select_queue
from workbench.labels.store import (
    ANOMALOUS_VERDICTS,
    NORMAL_VERDICTS,
    VERDICTS,
    normalize_verdict,
    read_labels,
    verdict_target,
    write_labels,
)
from workbench.labels.training import LABEL_SOURCES, apply_label_source, labelled_entity_frame

__all__ = [
    "ANOMALOUS_VERDICTS",
    "LABEL_SOURCES",
    "NORMAL_VERDICTS",
    "STRATEGIES",
    "VERDICTS",
    "ImportResult",
    "LearningCurves",
    "apply_label_source",
    "build_queue",
    "experiment_from_store",
    "import_labels_csv",
    "labelled_entity_frame",
    "normalize_verdict",
    "read_labels",
    "run_experiment",
    "select_queue",
    "verdict_target",
    "write_labels",
]
