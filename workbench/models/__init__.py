"""Models: the character-level CNN, calibration to 1–99 scores, metrics and artifacts."""

from workbench.models.anomaly import AnomalyDetector
from workbench.models.artifacts import ModelArtifact, load_model, save_model, verify_model
from workbench.models.baselines import RuleBaseline
from workbench.models.calibration import ScoreCalibrator, probability_to_score
from workbench.models.charcnn import CharCNN, CharCNNConfig, predict_logits
from workbench.models.charcnn_classifier import CharCNNClassifier
from workbench.models.metrics import (
    evaluate_binary,
    evaluate_multiclass,
    expected_calibration_error,
    reliability_curve,
)
from workbench.models.scoring import score_requests
from workbench.models.tabular import TabularClassifier
from workbench.models.train import load_entity_model, train_anomaly, train_tabular
from workbench.models.train_cnn import train_charcnn
from workbench.models.train_text import (
    CharNgramBaseline,
    TextTrainingResult,
    load_http_params,
    load_text_model,
    train_payload_classifier,
    train_request_classifier,
)

__all__ = [
    "AnomalyDetector",
    "RuleBaseline",
    "TabularClassifier",
    "load_entity_model",
    "score_requests",
    "train_anomaly",
    "train_charcnn",
    "train_tabular",
    "CharCNN",
    "CharCNNClassifier",
    "CharCNNConfig",
    "CharNgramBaseline",
    "ModelArtifact",
    "ScoreCalibrator",
    "TextTrainingResult",
    "evaluate_binary",
    "evaluate_multiclass",
    "expected_calibration_error",
    "load_http_params",
    "load_model",
    "load_text_model",
    "predict_logits",
    "probability_to_score",
    "reliability_curve",
    "save_model",
    "train_payload_classifier",
    "train_request_classifier",
    "verify_model",
]
