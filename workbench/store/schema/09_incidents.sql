-- Incidents: alerts grouped by triage (shared user, address or device within a window), ranked by risk.
-- The alerts of an incident carry its IncidentID; label and campaigns are ground truth copied
-- from those alerts when the events had it (evaluation only).
CREATE TABLE IF NOT EXISTS incidents
(
    IncidentID   String,
    FirstSeen    DateTime64(3, 'UTC'),
    LastSeen     DateTime64(3, 'UTC'),
    TriagedAt    DateTime64(3, 'UTC') DEFAULT now64(3),
    Risk         Float64,
    Severity     LowCardinality(String),
    RiskRank     UInt32,
    Alerts       UInt32,
    Repeats      UInt32,
    Detectors    Array(String),
    Users        Array(String),
    SourceIPs    Array(String),
    Summary      String,
    Reasons      Array(String),
    label        LowCardinality(String),
    campaigns    Array(String)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(FirstSeen)
ORDER BY (FirstSeen, IncidentID)
