-- Authentication events of one account (auth_events.User) in a time window, newest first.
-- param user: the account name, exactly as logged
-- param start: window start, UTC, inclusive
-- param end: window end, UTC, exclusive
-- param limit: at most this many rows
-- default start: 1970-01-01 00:00:00.000
-- default end: 2100-01-01 00:00:00.000
-- default limit: 1000
SELECT
    EventID,
    EventTime,
    User,
    EventType,
    Success,
    Repeats,
    UserValid,
    AuthMethod,
    SourceIP,
    SourceCountry,
    SourceASN,
    Device,
    Host,
    Service,
    TargetUser,
    Command,
    label,
    actor,
    campaign
FROM auth_events
WHERE User = {user:String}
  AND EventTime >= {start:DateTime64(3)}
  AND EventTime < {end:DateTime64(3)}
ORDER BY EventTime DESC, EventID
LIMIT {limit:UInt32}
