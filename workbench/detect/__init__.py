"""User and entity behaviour analytics on auth events: detectors, alerts, triage, evaluation."""

from workbench.detect.alerts import (
    ALERT_COLUMNS,
    SEVERITIES,
    alert_frame,
    make_alert,
    read_alerts,
    severity_for,
    write_alerts,
)
from workbench.detect.allowlist import Allowlist, AllowRule, load_allowlist, parse_allowlist
from workbench.detect.anomalies import detect_user_day_anomalies, load_user_day_labels
from workbench.detect.baselines import build_baselines, event_rarity, usual_hours
from workbench.detect.build import DETECTORS, BuildResult, build_alerts
from workbench.detect.credential import detect_brute_force, detect_password_spraying
from workbench.detect.escalation import detect_privilege_escalation
from workbench.detect.evaluate import (
    compare_models,
    incident_metrics,
    incident_report,
    injected_incidents,
    synthetic_user_days,
)
from workbench.detect.model import SemiSupervisedUserDayModel, UserDayAnomalyModel
from workbench.detect.novelty import detect_dormant_account, detect_first_seen, detect_off_hours
from workbench.detect.peers import detect_peer_deviation
from workbench.detect.travel import detect_impossible_travel
from workbench.detect.triage import TriageResult, read_incidents, triage, triage_alerts
from workbench.detect.userdays import FEATURES, user_day_features
from workbench.detect.window import DetectionWindow, make_window, resolve_window

__all__ = [
    "ALERT_COLUMNS",
    "DETECTORS",
    "FEATURES",
    "SEVERITIES",
    "AllowRule",
    "Allowlist",
    "BuildResult",
    "DetectionWindow",
    "SemiSupervisedUserDayModel",
    "TriageResult",
    "UserDayAnomalyModel",
    "alert_frame",
    "build_alerts",
    "build_baselines",
    "compare_models",
    "detect_brute_force",
    "detect_dormant_account",
    "detect_first_seen",
    "detect_impossible_travel",
    "detect_off_hours",
    "detect_password_spraying",
    "detect_peer_deviation",
    "detect_privilege_escalation",
    "detect_user_day_anomalies",
    "event_rarity",
    "incident_metrics",
    "incident_report",
    "injected_incidents",
    "load_allowlist",
    "load_user_day_labels",
    "make_alert",
    "make_window",
    "parse_allowlist",
    "read_alerts",
    "read_incidents",
    "resolve_window",
    "severity_for",
    "synthetic_user_days",
    "triage",
    "triage_alerts",
    "usual_hours",
    "user_day_features",
    "write_alerts",
]
