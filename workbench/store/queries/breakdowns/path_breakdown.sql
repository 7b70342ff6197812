-- Most requested paths in a window with methods, clients and error shares, optionally for one entity.
-- param entity_column: column naming the entity to filter on
-- param entity: the entity's value, or '' for all traffic
-- param start: window start, UTC, inclusive
-- param end: window end, UTC, exclusive
-- param limit: how many paths
-- default entity_column: ClientIP
-- default entity:
-- default start: 1970-01-01 00:00:00.000
-- default end: 2100-01-01 00:00:00.000
-- default limit: 25
SELECT
    ClientRequestPath AS path,
    count() AS requests,
    uniqExact(ClientIP) AS distinct_ips,
    groupUniqArray(5)(toString(ClientRequestMethod)) AS methods,
    round(countIf(ClientRequestQuery != '') / count(), 6) AS share_with_query,
    round(countIf(EdgeResponseStatus >= 400 AND EdgeResponseStatus < 500) / count(), 6) AS share_4xx,
    round(countIf(EdgeResponseStatus >= 500) / count(), 6) AS share_5xx
FROM http_requests
WHERE EdgeStartTimestamp >= {start:DateTime64(3)}
  AND EdgeStartTimestamp < {end:DateTime64(3)}
  AND ({entity:String} = '' OR toString({entity_column:Identifier}) = {entity:String})
GROUP BY path
ORDER BY requests DESC, path
LIMIT {limit:UInt32}
