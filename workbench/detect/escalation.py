"""Privilege escalation after an anomalous sign-in.

An *anomalous* sign-in comes from a device the account did not use in the reference window
(a new network as well makes it worse; a new network alone is a trip with one's own laptop).
Each privileged action is tied to the session it ran in: the account's latest sign-in before
it on the same host for ``sudo`` (an SSH session), its latest identity-provider sign-in for
an admin role change (an ``ASOF JOIN``). When that sign-in was anomalous and the action came
within ``within_minutes``, whoever signed in is using the account's privileges: the classic
path from a stolen password to a foothold. Administrators who change roles from their usual
laptop do not fire. Accounts without a baseline are skipped.
"""

from __future__ import annotations

import pandas as pd

from workbench.detect.alerts import alert_frame, user_alert
from workbench.detect.sql import IN_BASELINE, IN_WINDOW, IS_LOGIN, IS_PRIVILEGED
from workbench.detect.text import clip, duration, names, place, plural, when
from workbench.detect.window import DetectionWindow
from workbench.errors import InputError
from workbench.store.base import Store

_ESCALATION = f"""
WITH base AS
(
    SELECT User, SourceASN, Device FROM auth_events WHERE {IS_LOGIN} AND {IN_BASELINE}
),
known AS
(
    SELECT User FROM base GROUP BY User HAVING count() >= {{min_baseline_logins:UInt32}}
),
logins AS
(
    SELECT
        User, EventTime AS login_time, EventID AS login_id, SourceIP,
        toString(SourceCountry) AS country, SourceASN, Device,
        if(Service = 'sshd', Host, '') AS session_key,
        (User, SourceASN) NOT IN (SELECT User, SourceASN FROM base) AS new_asn,
        (User, Device) NOT IN (SELECT User, Device FROM base) AS new_device,
        toString(label) AS login_label, campaign AS login_campaign, toString(actor) AS login_actor
    FROM auth_events
    WHERE {IS_LOGIN} AND User IN (SELECT User FROM known) AND {IN_WINDOW}
),
privileged AS
(
    SELECT
        User, EventTime, EventType, Success, TargetUser, Command, label, campaign, actor,
        if(EventType = 'sudo', Host, '') AS session_key
    FROM auth_events
    WHERE {IS_PRIVILEGED} AND User != '' AND {IN_WINDOW}
)
SELECT
    l.User AS User,
    l.login_time AS login_time,
    any(l.SourceIP) AS SourceIP,
    any(l.country) AS country,
    any(l.SourceASN) AS asn,
    any(l.Device) AS Device,
    any(l.new_asn) AS new_asn,
    any(l.new_device) AS new_device,
    count() AS actions,
    countIf(p.EventType = 'privilege_change') AS role_changes,
    countIf(p.EventType = 'privilege_change' AND p.Success = 1) AS role_changes_done,
    countIf(p.EventType = 'sudo') AS sudo,
    countIf(p.Success = 0) AS denied,
    min(p.EventTime) AS first_action,
    max(p.EventTime) AS last_action,
    arraySlice(arraySort(groupUniqArray(p.Command)), 1, 5) AS commands,
    arraySort(groupUniqArrayIf(p.TargetUser, p.TargetUser != '')) AS targets,
    toUInt64(any(l.login_label) = 'attack') + countIf(p.label = 'attack') AS attack_events,
    toUInt64(any(l.login_label) != '') + countIf(p.label != '') AS labelled_events,
    arrayFilter(c -> c != '', arrayConcat([any(l.login_campaign)], topK(2)(p.campaign)))
        AS campaigns,
    arrayDistinct(arrayFilter(x -> x != '', arrayConcat(
        [if(any(l.login_label) = 'attack', any(l.login_actor), '')],
        groupUniqArrayIf(toString(p.actor), p.label = 'attack')))) AS attack_actors
FROM privileged AS p
ASOF INNER JOIN logins AS l
    ON p.User = l.User AND p.session_key = l.session_key AND p.EventTime >= l.login_time
WHERE l.new_device
  AND dateDiff('millisecond', l.login_time, p.EventTime) <= {{within_ms:UInt64}}
GROUP BY l.User, l.login_time, l.login_id
ORDER BY login_time, User
"""  # noqa: S608 - constant fragments only; values are bound


def detect_privilege_escalation(
    store: Store,
    window: DetectionWindow,
    within_minutes: float = 120.0,
    min_baseline_logins: int = 5,
) -> pd.DataFrame:
    """Find privileged actions that follow a sign-in from a new network or device.

    Parameters
    ----------
    store : Store
        Where ``auth_events`` lives.
    window : DetectionWindow
        Sign-ins in ``[start, end)`` are compared with the reference window.
    within_minutes : float, default 120
        How long after the sign-in privileged actions count.
    min_baseline_logins : int, default 5
        Accounts with fewer reference sign-ins are skipped.

    Returns
    -------
    pandas.DataFrame
        Alert rows (entity: the account), one per anomalous sign-in followed by privileged
        actions.

    Raises
    ------
    InputError
        When a threshold is out of range.
    """
    if isinstance(within_minutes, bool) or not isinstance(within_minutes, int | float):
        raise InputError(f"within_minutes must be a number, got {within_minutes!r}")
    if not 0 < within_minutes <= 7 * 24 * 60:
        raise InputError(f"within_minutes must be in (0, 10080], got {within_minutes}")
    if isinstance(min_baseline_logins, bool) or not isinstance(min_baseline_logins, int):
        raise InputError(f"min_baseline_logins must be an integer, got {min_baseline_logins!r}")
    if min_baseline_logins < 1:
        raise InputError(f"min_baseline_logins must be at least 1, got {min_baseline_logins}")
    params = {
        **window.parameters(),
        "within_ms": int(within_minutes * 60_000),
        "min_baseline_logins": min_baseline_logins,
    }
    found = store.query_df(_ESCALATION, params)
    rows = []
    for _, row in found.iterrows():
        new = [
            w for w, flag in (("network", row["new_asn"]), ("device", row["new_device"])) if flag
        ]
        where = place(row["country"], row["asn"])
        actions = []
        if row["role_changes"]:
            actions.append(plural(row["role_changes"], "admin role change"))
        if row["sudo"]:
            actions.append(plural(row["sudo"], "sudo command"))
        gap = duration((row["first_action"] - row["login_time"]).total_seconds())
        reasons = [
            f"{clip(row['User'], 40)} signed in from a new {' and a new '.join(new)} "
            f"({clip(row['SourceIP'])}" + (f", {where}" if where else "") + f") at "
            f"{when(row['login_time'])}, then made {' and '.join(actions)} starting {gap} later "
            "(privilege escalation after an anomalous sign-in)"
        ]
        if len(row["commands"]):
            reasons.append(f"actions: {names(row['commands'], 3)}")
        if len(row["targets"]):
            reasons.append(f"acting on: {names(row['targets'], 3)}")
        if row["denied"]:
            reasons.append(f"{plural(row['denied'], 'attempt')} denied before one went through")
        score = 70.0 + 10.0 * bool(row["new_asn"]) + 10.0 * bool(row["role_changes_done"])
        score += 5.0 * bool(row["denied"])
        rows.append(user_alert(
            "privilege_escalation", row, row["login_time"], min(score, 92.0), reasons,
            {"actions": row["actions"], "role_changes": row["role_changes"],
             "role_changes_done": row["role_changes_done"], "sudo": row["sudo"],
             "denied": row["denied"], "new_asn": float(row["new_asn"]),
             "new_device": float(row["new_device"]),
             "minutes_to_first_action":
                 (row["first_action"] - row["login_time"]).total_seconds() / 60},
            last_seen=row["last_action"], source_ips=[row["SourceIP"]], devices=[row["Device"]],
        ))  # fmt: skip
    return alert_frame(rows)
