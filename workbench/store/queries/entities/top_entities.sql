-- Top entities of one kind by request volume in a window, with their spread and error shares.
-- param entity_column: ClientIP, ClientASN, JA4, JA3Hash, ClientRequestUserAgent, ClientCountry, ClientRequestPath ...
-- param start: window start, UTC, inclusive
-- param end: window end, UTC, exclusive
-- param limit: how many entities
-- default entity_column: ClientIP
-- default start: 1970-01-01 00:00:00.000
-- default end: 2100-01-01 00:00:00.000
-- default limit: 20
SELECT
    toString({entity_column:Identifier}) AS entity,
    count() AS requests,
    round(count() / (SELECT count() FROM http_requests
                     WHERE EdgeStartTimestamp >= {start:DateTime64(3)}
                       AND EdgeStartTimestamp < {end:DateTime64(3)}), 6) AS share,
    uniqExact(ClientIP) AS distinct_ips,
    uniqExact(ClientRequestPath) AS distinct_paths,
    uniqExact(ClientRequestUserAgent) AS distinct_user_agents,
    round(countIf(EdgeResponseStatus >= 400 AND EdgeResponseStatus < 500) / count(), 6) AS share_4xx,
    round(countIf(EdgeResponseStatus >= 500) / count(), 6) AS share_5xx,
    min(EdgeStartTimestamp) AS first_seen,
    max(EdgeStartTimestamp) AS last_seen
FROM http_requests
WHERE EdgeStartTimestamp >= {start:DateTime64(3)}
  AND EdgeStartTimestamp < {end:DateTime64(3)}
GROUP BY entity
ORDER BY requests DESC, entity
LIMIT {limit:UInt32}
