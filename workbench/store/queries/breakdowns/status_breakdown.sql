-- Response status mix in a window, optionally for one entity ('' means all traffic).
-- param entity_column: column naming the entity to filter on
-- param entity: the entity's value, or '' for all traffic
-- param start: window start, UTC, inclusive
-- param end: window end, UTC, exclusive
-- default entity_column: ClientIP
-- default entity:
-- default start: 1970-01-01 00:00:00.000
-- default end: 2100-01-01 00:00:00.000
SELECT
    EdgeResponseStatus AS status,
    multiIf(status < 200, '1xx', status < 300, '2xx', status < 400, '3xx', status < 500, '4xx', '5xx')
        AS status_class,
    count() AS requests,
    round(count() / sum(count()) OVER (), 6) AS share
FROM http_requests
WHERE EdgeStartTimestamp >= {start:DateTime64(3)}
  AND EdgeStartTimestamp < {end:DateTime64(3)}
  AND ({entity:String} = '' OR toString({entity_column:Identifier}) = {entity:String})
GROUP BY status
ORDER BY requests DESC, status
