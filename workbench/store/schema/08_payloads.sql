-- Labelled request payloads (such as HttpParamsDataset) for training the request-text classifier.
CREATE TABLE IF NOT EXISTS payloads
(
    PayloadID    String,
    Payload      String,
    AttackType   LowCardinality(String),
    label        LowCardinality(String),
    Split        LowCardinality(String),
    Source       String
)
ENGINE = MergeTree
ORDER BY (Source, PayloadID)
