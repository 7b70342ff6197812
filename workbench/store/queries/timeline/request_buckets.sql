-- Requests per time bucket (1, 5 or 60 minutes ...) with status classes, optionally for one entity.
-- param bucket_seconds: bucket width in seconds (60, 300, 3600 ...)
-- param entity_column: column naming the entity to filter on
-- param entity: the entity's value, or '' for all traffic
-- param start: window start, UTC, inclusive
-- param end: window end, UTC, exclusive
-- default bucket_seconds: 300
-- default entity_column: ClientIP
-- default entity:
-- default start: 1970-01-01 00:00:00.000
-- default end: 2100-01-01 00:00:00.000
SELECT
    toDateTime64(toStartOfInterval(EdgeStartTimestamp, toIntervalSecond({bucket_seconds:UInt32})), 3, 'UTC')
        AS bucket,
    count() AS requests,
    countIf(EdgeResponseStatus < 300) AS status_2xx,
    countIf(EdgeResponseStatus >= 300 AND EdgeResponseStatus < 400) AS status_3xx,
    countIf(EdgeResponseStatus >= 400 AND EdgeResponseStatus < 500) AS status_4xx,
    countIf(EdgeResponseStatus >= 500) AS status_5xx,
    uniqExact(ClientIP) AS distinct_ips
FROM http_requests
WHERE EdgeStartTimestamp >= {start:DateTime64(3)}
  AND EdgeStartTimestamp < {end:DateTime64(3)}
  AND ({entity:String} = '' OR toString({entity_column:Identifier}) = {entity:String})
GROUP BY bucket
ORDER BY bucket
