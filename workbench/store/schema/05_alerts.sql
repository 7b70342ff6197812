-- Detections: one row per alert, with reasons written for a person and the features that drove it.
-- LastSeen: last event of the detection (AlertTime is the first). Users, SourceIPs, Devices: the
-- entities involved, which triage uses to group alerts into incidents (workbench.detect).
CREATE TABLE IF NOT EXISTS alerts
(
    AlertID     String,
    AlertTime   DateTime64(3, 'UTC'),
    Detector    LowCardinality(String),
    EntityType  LowCardinality(String),
    Entity      String,
    Score       Float64,
    Severity    LowCardinality(String),
    Reasons     Array(String),
    Features    Map(String, Float64),
    IncidentID  String,
    Suppressed  UInt8,
    SuppressedBy String,
    label       LowCardinality(String),
    campaign    String,
    LastSeen    DateTime64(3, 'UTC'),
    Users       Array(String),
    SourceIPs   Array(String),
    Devices     Array(String)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(AlertTime)
ORDER BY (EntityType, Entity, AlertTime, AlertID)
