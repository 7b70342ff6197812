-- HTTP requests, Cloudflare Logpush `http_requests` field names and meanings.
-- shard by: cityHash64(ClientIP)
-- Extensions beyond Logpush: RequestBody (raw request body where a source has one),
-- Source (where the row came from), and ground truth `label`, `actor`, `campaign`,
-- `attack_class` ('' for clean requests, else sqli / xss / traversal / cmdi).
CREATE TABLE IF NOT EXISTS http_requests
(
    RayID                   String,
    EdgeStartTimestamp      DateTime64(3, 'UTC'),
    EdgeEndTimestamp        DateTime64(3, 'UTC'),
    ClientIP                String,
    ClientASN               UInt32,
    ClientCountry           LowCardinality(String),
    ClientDeviceType        LowCardinality(String),
    ClientRequestMethod     LowCardinality(String),
    ClientRequestScheme     LowCardinality(String),
    ClientRequestHost       String,
    ClientRequestPath       String,
    ClientRequestQuery      String,
    ClientRequestURI        String,
    ClientRequestUserAgent  String,
    ClientRequestReferer    String,
    ClientRequestProtocol   LowCardinality(String),
    ClientRequestBytes      UInt64,
    ClientSSLProtocol       LowCardinality(String),
    ClientSSLCipher         LowCardinality(String),
    JA3Hash                 String,
    JA4                     String,
    EdgeResponseStatus      UInt16,
    OriginResponseStatus    UInt16,
    EdgeResponseBytes       UInt64,
    EdgeResponseContentType LowCardinality(String),
    BotScore                UInt8,
    BotScoreSrc             LowCardinality(String),
    VerifiedBotCategory     LowCardinality(String),
    WAFAttackScore          UInt8,
    SecurityAction          LowCardinality(String),
    RequestHeaders          Map(String, String),
    RequestBody             String,
    Source                  String,
    label                   LowCardinality(String),
    actor                   LowCardinality(String),
    campaign                String,
    attack_class            LowCardinality(String)
)
ENGINE = MergeTree
PARTITION BY toDate(EdgeStartTimestamp)
ORDER BY (ClientIP, EdgeStartTimestamp, RayID)
