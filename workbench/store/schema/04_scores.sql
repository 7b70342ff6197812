-- Model scores: one row per scored request or entity, with the model name and version on every row.
CREATE TABLE IF NOT EXISTS scores
(
    RayID        String,
    EntityType   LowCardinality(String),
    Entity       String,
    EventTime    DateTime64(3, 'UTC'),
    ScoredAt     DateTime64(3, 'UTC') DEFAULT now64(3),
    Model        LowCardinality(String),
    Version      LowCardinality(String),
    ScoreKind    LowCardinality(String),
    Probability  Float64,
    Score        UInt8
)
ENGINE = MergeTree
PARTITION BY toDate(EventTime)
ORDER BY (Model, Version, EventTime, RayID)
