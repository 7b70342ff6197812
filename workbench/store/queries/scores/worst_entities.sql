-- Entities a model scored as most automated (lowest 1-99 score), with their request counts.
-- The model's newest scored version is used. Ties go to the entity with more error responses
-- (4xx/5xx: probing, failed logins, blocked requests), then to the one with more requests.
-- param model: the model's name (the Model column of scores, e.g. bot-ip)
-- param entity_type: the scored entity kind (ip ...)
-- param entity_column: the http_requests column naming that entity (ClientIP ...)
-- param start: window start, UTC, inclusive
-- param end: window end, UTC, exclusive
-- param limit: at most this many rows
-- default entity_type: ip
-- default entity_column: ClientIP
-- default start: 1970-01-01 00:00:00.000
-- default end: 2100-01-01 00:00:00.000
-- default limit: 10
WITH
    latest AS (
        SELECT argMax(Version, ScoredAt) AS version
        FROM scores
        WHERE Model = {model:String} AND EntityType = {entity_type:String}
    ),
    scored AS (
        SELECT Entity, min(Score) AS score, max(Probability) AS probability, any(Version) AS version
        FROM scores
        WHERE Model = {model:String} AND EntityType = {entity_type:String}
          AND Version = (SELECT version FROM latest)
          AND EventTime >= {start:DateTime64(3)} AND EventTime < {end:DateTime64(3)}
        GROUP BY Entity
    ),
    traffic AS (
        SELECT toString({entity_column:Identifier}) AS Entity, count() AS requests,
               countIf(EdgeResponseStatus >= 400) AS error_responses
        FROM http_requests
        WHERE EdgeStartTimestamp >= {start:DateTime64(3)} AND EdgeStartTimestamp < {end:DateTime64(3)}
        GROUP BY Entity
    )
SELECT scored.Entity AS entity, score, probability, version, requests, error_responses
FROM scored
INNER JOIN traffic ON traffic.Entity = scored.Entity
ORDER BY score ASC, error_responses DESC, requests DESC, entity ASC
LIMIT {limit:UInt32}
