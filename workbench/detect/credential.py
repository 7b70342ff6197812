"""Password-guessing detectors: brute force and password spraying, by source address.

Attempts from one source are cut into *bursts*: successive attempts less than a gap apart
(window functions in ClickHouse). Per burst and account the query counts failed passwords
(syslog ``message repeated N times`` lines count N times), then per burst:

- **brute force**: at least ``min_failures`` failed passwords, at least
  ``min_tries_per_account`` per targeted account (many tries on few accounts);
- **password spraying**: at least ``min_accounts`` accounts, a median of at most
  ``max_tries`` attempts each (few tries on many accounts), and most targeted accounts never
  signing in successfully from the source (a shared office address where people mistype
  their passwords is not a spray).

A successful sign-in from the source to a targeted account after its first failure means the
password was found: the alert becomes critical.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from workbench.detect.alerts import alert_frame, ground_truth, make_alert
from workbench.detect.sql import FAILURE_WEIGHT, IN_WINDOW
from workbench.detect.text import clip, duration, names, place, plural, when
from workbench.detect.window import DetectionWindow
from workbench.errors import InputError
from workbench.store.base import Store

_PER_ACCOUNT = f"""
SELECT
    SourceIP,
    burst,
    User,
    sum(weight) AS failed,
    countIf(EventType = 'invalid_user') AS invalid_events,
    greatest(failed, invalid_events) AS tries,
    max(EventType = 'invalid_user' OR (weight > 0 AND UserValid = 0)) AS invalid,
    minIf(EventTime, EventType != 'login_success') AS acc_first,
    maxIf(EventTime, EventType != 'login_success') AS acc_last,
    countIf(EventType = 'login_success') AS successes,
    maxIf(EventTime, EventType = 'login_success') AS acc_success,
    groupUniqArrayIf(5)(Device, Device != '') AS acc_devices,
    anyIf(toString(SourceCountry), SourceCountry != '') AS acc_country,
    anyIf(SourceASN, SourceASN != 0) AS acc_asn,
    groupUniqArray(5)(toString(Service)) AS acc_services,
    countIf(label = 'attack') AS acc_attack,
    countIf(label != '') AS acc_labelled,
    anyIf(campaign, campaign != '') AS acc_campaign,
    anyIf(toString(actor), label = 'attack') AS acc_actor
FROM
(
    SELECT
        *,
        sum(new_burst) OVER (PARTITION BY SourceIP ORDER BY EventTime, EventID
                             ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS burst
    FROM
    (
        SELECT
            *,
            toUInt64(prev_time IS NULL
                     OR dateDiff('millisecond', assumeNotNull(prev_time), EventTime)
                        > {{gap_ms:UInt64}}) AS new_burst
        FROM
        (
            SELECT
                SourceIP, EventTime, EventID, EventType, User, UserValid, Device,
                SourceCountry, SourceASN, Service, label, campaign, actor,
                {FAILURE_WEIGHT} AS weight,
                lagInFrame(toNullable(EventTime)) OVER (PARTITION BY SourceIP
                    ORDER BY EventTime, EventID ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
                    AS prev_time
            FROM auth_events
            WHERE {IN_WINDOW} AND SourceIP != ''
              AND EventType IN ('login_failure', 'invalid_user', 'login_success')
        )
    )
)
GROUP BY SourceIP, burst, User
"""  # noqa: S608 - constant fragments only; values are bound

_PER_BURST = f"""
SELECT
    SourceIP,
    burst,
    minIf(acc_first, tries > 0) AS first_try,
    maxIf(acc_last, tries > 0) AS last_try,
    sum(failed) AS failures,
    countIf(failed > 0) AS failed_accounts,
    countIf(tries > 0) AS accounts,
    sum(tries) AS attempts,
    max(tries) AS max_tries,
    quantileExactIf(0.5)(tries, tries > 0) AS median_tries,
    countIf(tries > 0 AND invalid) AS invalid_accounts,
    countIf(tries > 0 AND successes > 0) AS accounts_signed_in,
    arraySort(groupArrayIf(200)(User, tries > 0)) AS users,
    arrayMap(x -> x.2, arraySlice(arrayReverseSort(x -> x.1,
        groupArrayIf((tries, User), tries > 0)), 1, 5)) AS top_users,
    arraySort(groupArrayIf(User, {{compromised}})) AS compromised,
    minIf(acc_success, {{compromised}}) AS success_time,
    arraySort(groupUniqArrayArray(20)(acc_devices)) AS devices,
    anyIf(acc_country, acc_country != '') AS country,
    anyIf(acc_asn, acc_asn != 0) AS asn,
    arraySort(groupUniqArrayArray(5)(acc_services)) AS services,
    sum(acc_attack) AS attack_events,
    sum(acc_labelled) AS labelled_events,
    topKIf(3)(acc_campaign, acc_campaign != '') AS campaigns,
    arraySort(groupUniqArrayIf(acc_actor, acc_actor != '')) AS attack_actors
FROM ({_PER_ACCOUNT})
GROUP BY SourceIP, burst
HAVING {{condition}}
ORDER BY first_try, SourceIP
"""  # noqa: S608 - constant fragments only; values are bound

_BRUTE_FORCE = _PER_BURST.replace(
    # the password was guessed: a success after enough failures on that very account
    "{compromised}",
    "failed >= {min_tries_per_account:Float64} AND successes > 0 AND acc_success > acc_first",
).replace(
    "{condition}",
    "failures >= {min_failures:UInt64} "
    "AND failures >= {min_tries_per_account:Float64} * greatest(failed_accounts, 1)",
)
_SPRAYING = _PER_BURST.replace(
    # a sprayed password worked: a success within the burst, after at most max_tries tries
    "{compromised}",
    "successes > 0 AND tries <= {max_tries:Float64}",
).replace(
    "{condition}",
    "accounts >= {min_accounts:UInt64} AND median_tries <= {max_tries:Float64} "
    "AND accounts_signed_in <= {max_signed_in_share:Float64} * accounts",
)


def _positive(name: str, value: Any, integer: bool = False) -> Any:
    kind = int if integer else int | float
    if isinstance(value, bool) or not isinstance(value, kind) or value <= 0:
        what = "a positive integer" if integer else "a positive number"
        raise InputError(f"{name} must be {what}, got {value!r}")
    return value


def _common(row: pd.Series) -> tuple[str, str, list[str]]:
    where = place(row["country"], row["asn"])
    source = f"{clip(row['SourceIP'])}" + (f" ({where})" if where else "")
    span = duration((row["last_try"] - row["first_try"]).total_seconds())
    extra = []
    if row["invalid_accounts"]:
        n = int(row["invalid_accounts"])
        extra.append(f"{plural(n, 'targeted account')} {'does' if n == 1 else 'do'} not exist")
    if len(row["devices"]):
        extra.append(f"client: {names(row['devices'], 2)}")
    return source, span, extra


def _seconds(row: pd.Series) -> float:
    """Return the length of a burst in seconds (at least 1, for rates)."""
    return max((row["last_try"] - row["first_try"]).total_seconds(), 1.0)


def _burst_alert(
    detector: str,
    row: pd.Series,
    score: float,
    reasons: list[str],
    features: dict[str, float],
) -> dict[str, Any]:
    """Return the alert about one burst of a source (:func:`make_alert`).

    The entity is the source address; the accounts involved are the targeted ones and those
    it signed in to, and the alert lasts until the later of its last try and that sign-in.

    Parameters
    ----------
    detector : str
        Detector name.
    row : pandas.Series
        The burst, as the detector query returns it.
    score : float
        0 to 100.
    reasons : list of str
        Sentences for a person, most important first.
    features : dict of str to float
        The numbers that drove the detection.

    Returns
    -------
    dict
        The alert row.
    """
    compromised = list(row["compromised"])
    last = max(row["last_try"], row["success_time"]) if compromised else row["last_try"]
    return make_alert(
        detector, "ip", row["SourceIP"], row["first_try"], score, reasons, features,
        last_seen=last, users=[*row["users"], *compromised], source_ips=[row["SourceIP"]],
        devices=row["devices"], truth=ground_truth(row),
    )  # fmt: skip


def detect_brute_force(
    store: Store,
    window: DetectionWindow,
    min_failures: int = 20,
    min_tries_per_account: float = 5.0,
    max_gap_minutes: float = 30.0,
) -> pd.DataFrame:
    """Find sources that fail many passwords on few accounts.

    Parameters
    ----------
    store : Store
        Where ``auth_events`` lives.
    window : DetectionWindow
        Attempts in ``[start, end)`` are examined.
    min_failures : int, default 20
        Failed passwords in one burst that make an alert.
    min_tries_per_account : float, default 5
        Failed passwords per targeted account, at least (fewer is spraying, not brute force).
    max_gap_minutes : float, default 30
        Attempts further apart start a new burst.

    Returns
    -------
    pandas.DataFrame
        Alert rows (entity: the source address), one per burst.

    Raises
    ------
    InputError
        When a threshold is not positive.
    """
    params = {
        **window.parameters(),
        "min_failures": _positive("min_failures", min_failures, integer=True),
        "min_tries_per_account": float(_positive("min_tries_per_account", min_tries_per_account)),
        "gap_ms": int(_positive("max_gap_minutes", max_gap_minutes) * 60_000),
    }
    bursts = store.query_df(_BRUTE_FORCE, params)
    rows = []
    for _, row in bursts.iterrows():
        source, span, extra = _common(row)
        failures, accounts = int(row["failures"]), int(row["failed_accounts"])
        top = list(row["top_users"])
        target = f"for {clip(top[0], 40)}" if accounts == 1 else (
            f"for {plural(accounts, 'account')} ({names(top)})"
        )  # fmt: skip
        reasons = [f"{failures:,} failed passwords {target} from {source} in {span} (brute force)"]
        score = min(80.0, 50.0 + 15.0 * math.log10(failures / min_failures))
        compromised = list(row["compromised"])
        if compromised:
            score = 92.0
            reasons.insert(0, (
                f"{clip(row['SourceIP'])} then signed in as {names(compromised)} at "
                f"{when(row['success_time'])}: the password was guessed (successful brute force)"
            ))  # fmt: skip
        seconds = _seconds(row)
        rows.append(_burst_alert(
            "brute_force", row, score, reasons + extra,
            {"failures": failures, "accounts": accounts, "max_tries": row["max_tries"],
             "invalid_accounts": row["invalid_accounts"], "duration_s": seconds,
             "failures_per_minute": failures / seconds * 60,
             "compromised_accounts": len(compromised)},
        ))  # fmt: skip
    return alert_frame(rows)


def detect_password_spraying(
    store: Store,
    window: DetectionWindow,
    min_accounts: int = 10,
    max_tries: float = 3.0,
    max_gap_minutes: float = 120.0,
    max_signed_in_share: float = 0.2,
) -> pd.DataFrame:
    """Find sources that try a few passwords on many accounts.

    Parameters
    ----------
    store : Store
        Where ``auth_events`` lives.
    window : DetectionWindow
        Attempts in ``[start, end)`` are examined.
    min_accounts : int, default 10
        Accounts tried in one burst that make an alert.
    max_tries : float, default 3
        Highest median number of attempts per account (more is brute force).
    max_gap_minutes : float, default 120
        Attempts further apart start a new burst; long enough to join the rounds of a
        spray that waits out lockout windows.
    max_signed_in_share : float, default 0.2
        Highest share of the tried accounts that also signed in successfully from the
        source (users behind one address mistyping passwords all succeed).

    Returns
    -------
    pandas.DataFrame
        Alert rows (entity: the source address), one per burst.

    Raises
    ------
    InputError
        When a threshold is not positive.
    """
    share = float(_positive("max_signed_in_share", max_signed_in_share))
    if share > 1:
        raise InputError(f"max_signed_in_share must be at most 1, got {share}")
    params = {
        **window.parameters(),
        "min_accounts": _positive("min_accounts", min_accounts, integer=True),
        "max_tries": float(_positive("max_tries", max_tries)),
        "gap_ms": int(_positive("max_gap_minutes", max_gap_minutes) * 60_000),
        "max_signed_in_share": share,
    }
    bursts = store.query_df(_SPRAYING, params)
    rows = []
    for _, row in bursts.iterrows():
        source, span, extra = _common(row)
        accounts = int(row["accounts"])
        reasons = [
            f"{plural(accounts, 'account')} tried from {source} over {span}, "
            f"{plural(row['median_tries'], 'attempt')} each (median; at most "
            f"{int(row['max_tries'])}) (password spraying)"
        ]
        score = min(80.0, 55.0 + 15.0 * math.log10(accounts / min_accounts))
        compromised = list(row["compromised"])
        if compromised:
            score = 95.0
            reasons.insert(0, (
                f"a sprayed password worked: {clip(row['SourceIP'])} signed in as "
                f"{names(compromised)} at {when(row['success_time'])}"
            ))  # fmt: skip
        rows.append(_burst_alert(
            "password_spraying", row, score, reasons + extra,
            {"accounts": accounts, "attempts": row["attempts"], "median_tries":
             row["median_tries"], "max_tries": row["max_tries"], "invalid_accounts":
             row["invalid_accounts"], "duration_s": _seconds(row), "compromised_accounts":
             len(compromised)},
        ))  # fmt: skip
    return alert_frame(rows)
