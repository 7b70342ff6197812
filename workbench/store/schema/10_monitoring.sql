-- Monitoring results kept for trends: one row per (run, check, subject, metric).
-- Kind: drift / calibration / performance. Scope: what was compared ("ip features",
-- "requests", "scores of <model> <version>", "calibration", "performance"). Subject: the
-- feature, column or score; Metric: psi, ks, js, p_value, ece, pr_auc, coverage ...
-- Severity (none / minor / major) is the subject's, decided by PSI (drift) or the ECE rise
-- (calibration), and repeated on each of its metric rows. Checks without a reference window
-- (performance per period) leave ReferenceStart/ReferenceEnd at 1970-01-01.
-- Details: JSON (bin edges or categories with both windows' shares) on the psi rows.
CREATE TABLE IF NOT EXISTS monitoring
(
    RunID           String,
    RunTime         DateTime64(3, 'UTC') DEFAULT now64(3),
    Kind            LowCardinality(String),
    EntityType      LowCardinality(String),
    ReferenceStart  DateTime64(3, 'UTC'),
    ReferenceEnd    DateTime64(3, 'UTC'),
    CurrentStart    DateTime64(3, 'UTC'),
    CurrentEnd      DateTime64(3, 'UTC'),
    Scope           LowCardinality(String),
    Subject         String,
    Metric          LowCardinality(String),
    Value           Float64,
    Severity        LowCardinality(String),
    Model           LowCardinality(String),
    Version         LowCardinality(String),
    ReferenceRows   Float64,
    CurrentRows     Float64,
    Details         String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(RunTime)
ORDER BY (Kind, Scope, Subject, Metric, RunTime)
