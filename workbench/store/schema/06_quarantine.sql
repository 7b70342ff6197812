-- Input that could not be parsed: never dropped, kept here with where it came from and why.
CREATE TABLE IF NOT EXISTS quarantine
(
    QuarantinedAt  DateTime64(3, 'UTC') DEFAULT now64(3),
    Source         String,
    Format         LowCardinality(String),
    LineNumber     UInt64,
    Reason         String,
    Raw            String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(QuarantinedAt)
ORDER BY (Source, LineNumber)
