-- Authentication events: sshd / sudo lines from auth logs and synthetic identity-provider logins.
-- shard by: cityHash64(User)
-- Ground truth for synthetic incidents in `label` (normal / attack), `actor` and `campaign`.
-- `Repeats`: events the row stands for; syslog folds identical lines into
-- "message repeated N times: [ ... ]", loaded as one row with Repeats = N (otherwise 1).
CREATE TABLE IF NOT EXISTS auth_events
(
    EventID        String,
    EventTime      DateTime64(3, 'UTC'),
    Host           LowCardinality(String),
    Service        LowCardinality(String),
    EventType      LowCardinality(String),
    User           String,
    UserValid      UInt8,
    Success        UInt8,
    AuthMethod     LowCardinality(String),
    SourceIP       String,
    SourcePort     UInt16,
    SourceASN      UInt32,
    SourceCountry  LowCardinality(String),
    Latitude       Float64,
    Longitude      Float64,
    Device         String,
    Department     LowCardinality(String),
    TargetUser     String,
    Command        String,
    Raw            String,
    Repeats        UInt32 DEFAULT 1,
    Source         String,
    label          LowCardinality(String),
    actor          LowCardinality(String),
    campaign       String
)
ENGINE = MergeTree
PARTITION BY toDate(EventTime)
ORDER BY (User, EventTime, EventID)
