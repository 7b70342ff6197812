-- The time span and size of the request data: first and last timestamp, rows, distinct clients.
SELECT
    min(EdgeStartTimestamp) AS first_request,
    max(EdgeStartTimestamp) AS last_request,
    count() AS requests,
    uniqExact(ClientIP) AS distinct_ips,
    uniqExact(JA4) AS distinct_ja4,
    uniqExact(ClientRequestUserAgent) AS distinct_user_agents
FROM http_requests
