-- Analyst labels with provenance: who said what about which entity or request, when, and how.
CREATE TABLE IF NOT EXISTS labels
(
    LabelID     String,
    LabelTime   DateTime64(3, 'UTC'),
    EntityType  LowCardinality(String),
    Entity      String,
    RayID       String,
    Verdict     LowCardinality(String),
    Analyst     String,
    Source      LowCardinality(String),
    Model       String,
    Note        String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(LabelTime)
ORDER BY (EntityType, Entity, LabelTime)
