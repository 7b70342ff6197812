"""Model and data monitoring: drift between windows, performance over time, calibration drift."""

from workbench.monitor.calibration import (
    CalibrationReport,
    CalibrationThresholds,
    calibration_drift,
)
from workbench.monitor.drift import drift_report, measure_drift, score_versions
from workbench.monitor.histograms import (
    Source,
    category_counts,
    design_effect,
    exact_ks,
    numeric_counts,
    reference_quantiles,
)
from workbench.monitor.history import (
    monitoring_history,
    trend,
    write_monitoring,
)
from workbench.monitor.performance import (
    average_precision_from_counts,
    labelled_counts,
    performance_over_time,
    summarize_counts,
)
from workbench.monitor.report import DriftReport, json_ready
from workbench.monitor.sources import (
    REQUEST_CATEGORICAL,
    REQUEST_NUMERIC,
    Window,
    entity_source,
    request_source,
    score_source,
)
from workbench.monitor.stats import (
    Thresholds,
    js_distance,
    ks_binned,
    psi,
    psi_p_value,
    severity,
)

__all__ = [
    "REQUEST_CATEGORICAL",
    "REQUEST_NUMERIC",
    "CalibrationReport",
    "CalibrationThresholds",
    "DriftReport",
    "Source",
    "Thresholds",
    "Window",
    "average_precision_from_counts",
    "calibration_drift",
    "category_counts",
    "design_effect",
    "drift_report",
    "entity_source",
    "exact_ks",
    "js_distance",
    "json_ready",
    "ks_binned",
    "labelled_counts",
    "measure_drift",
    "monitoring_history",
    "numeric_counts",
    "performance_over_time",
    "psi",
    "psi_p_value",
    "reference_quantiles",
    "request_source",
    "score_source",
    "score_versions",
    "severity",
    "summarize_counts",
    "trend",
    "write_monitoring",
]
