-- Ledger of ingested files (content hash), so that loading the same file twice adds nothing.
CREATE TABLE IF NOT EXISTS ingest_files
(
    LoadedAt     DateTime64(3, 'UTC') DEFAULT now64(3),
    Source       String,
    Sha256       String,
    Format       LowCardinality(String),
    TargetTable  String,
    RowsRead     UInt64,
    RowsLoaded   UInt64,
    RowsQuarantined UInt64
)
ENGINE = MergeTree
ORDER BY (Sha256, LoadedAt)
