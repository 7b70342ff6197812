-- Detections: one row per alert, with reasons written for a person and the features that drove it.
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
    campaign    String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(AlertTime)
ORDER BY (EntityType, Entity, AlertTime, AlertID)
