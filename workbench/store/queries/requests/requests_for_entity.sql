-- Requests from one entity (IP, ASN, JA4, JA3, user agent ...) in a time window, newest first.
-- param entity_column: the column that names the entity: ClientIP, ClientASN, JA4, JA3Hash, ClientRequestUserAgent, ClientCountry
-- param entity: the entity's value, as text (an IP, an ASN number, a JA4 string ...)
-- param start: window start, UTC, inclusive
-- param end: window end, UTC, exclusive
-- param limit: at most this many rows
-- default entity_column: ClientIP
-- default start: 1970-01-01 00:00:00.000
-- default end: 2100-01-01 00:00:00.000
-- default limit: 1000
SELECT
    RayID,
    EdgeStartTimestamp,
    ClientIP,
    ClientASN,
    ClientCountry,
    ClientRequestMethod,
    ClientRequestHost,
    ClientRequestPath,
    ClientRequestQuery,
    ClientRequestUserAgent,
    ClientRequestReferer,
    JA4,
    EdgeResponseStatus,
    EdgeResponseBytes,
    BotScore,
    WAFAttackScore,
    label,
    actor,
    campaign
FROM http_requests
WHERE toString({entity_column:Identifier}) = {entity:String}
  AND EdgeStartTimestamp >= {start:DateTime64(3)}
  AND EdgeStartTimestamp < {end:DateTime64(3)}
ORDER BY EdgeStartTimestamp DESC, RayID
LIMIT {limit:UInt32}
