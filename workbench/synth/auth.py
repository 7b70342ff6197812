"""Synthetic authentication events with personal habits and labelled incidents.

``generate_auth_events`` simulates a company's sign-ins (identity provider, VPN, SSH bastions
with ``sudo``) for a population of users with personal habits (:mod:`.auth_users`) and injects
incidents with ground truth (:mod:`.auth_incidents`): brute force, password spraying,
impossible travel, a new country after a password reset, privilege escalation after an
anomalous sign-in, and dormant account reuse. Attack events carry ``label='attack'``, the
incident type in ``actor`` and a campaign id like ``inc-0007``; everything else is
``label='normal'``, ``actor='user'``, ``campaign=''``. The same arguments give identical rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench.errors import InputError
from workbench.store.identifiers import check_identifier
from workbench.synth import geo
from workbench.synth.auth_incidents import INCIDENT_TYPES, Scene, incident_counts, inject_incidents
from workbench.synth.auth_users import (
    DEPARTMENTS,
    DOMAIN,
    HOSTS,
    MAX_DAYS,
    MAX_USER_DAYS,
    MAX_USERS,
    METHODS,
    EventColumns,
    Population,
    as_text,
    build_population,
    check_integer,
    check_size,
    lookup,
    plan_trips,
    simulate_users,
    stream_rng,
)

__all__ = [
    "COLUMNS",
    "DEFAULT_START",
    "EVENT_TYPES",
    "INCIDENT_TYPES",
    "MAX_DAYS",
    "MAX_USER_DAYS",
    "MAX_USERS",
    "generate_auth_events",
    "generate_auth_users",
    "incident_counts",
    "summarize_incidents",
    "write_auth_events",
]

EVENT_TYPES = (
    "login_success",
    "login_failure",
    "invalid_user",
    "password_reset",
    "privilege_change",
    "sudo",
    "logout",
)
COLUMNS = (
    "EventID", "EventTime", "Host", "Service", "EventType", "User", "UserValid", "Success",
    "AuthMethod", "SourceIP", "SourcePort", "SourceASN", "SourceCountry", "Latitude",
    "Longitude", "Device", "Department", "TargetUser", "Command", "Raw", "Repeats", "Source",
    "label", "actor", "campaign",
)  # fmt: skip
#: Default first day, fixed so output never depends on today's date; the same window as the
#: synthetic HTTP traffic (:mod:`workbench.synth.traffic`).
DEFAULT_START = pd.Timestamp("2026-11-01", tz="UTC")


def _first_day(start: datetime | str | pd.Timestamp | None) -> pd.Timestamp:
    if start is None:
        return DEFAULT_START
    try:
        ts = pd.Timestamp(start)
    except (ValueError, TypeError):
        raise InputError(f"start={start!r} is not a date or timestamp") from None
    if ts is pd.NaT:
        raise InputError("start must be a date or timestamp, got NaT")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.floor("D")


def source_of(seed: int) -> str:
    """Return the ``Source`` value of the rows generated with ``seed``."""
    return f"synth:auth:seed={int(seed)}"


def generate_auth_users(users: int = 500, seed: int = 0) -> pd.DataFrame:
    """Describe the synthetic users that :func:`generate_auth_events` simulates.

    Parameters
    ----------
    users : int
        Number of users (10 to ``MAX_USERS``).
    seed : int
        Seed; the same ``(users, seed)`` gives the same people in both functions.

    Returns
    -------
    pandas.DataFrame
        One row per user: ``User``, ``Department``, ``City``, ``Country``, ``Latitude``,
        ``Longitude``, ``UtcOffset`` (hours), ``WorkStart`` (local hour), ``WorkHours``,
        ``Devices`` (list of str), ``HomeASN``, ``MobileASN``, ``HomeIP``, ``AuthMethod``,
        ``Bastion`` and ``Dormant`` (seen on the first day only).

    Raises
    ------
    InputError
        When ``users`` or ``seed`` is not an integer in range.
    """
    pop = build_population(check_integer("users", users, 10, MAX_USERS), _seed(seed))
    return pd.DataFrame(
        {
            "User": pop.name,
            "Department": np.array(list(DEPARTMENTS), dtype=object)[pop.dept],
            "City": [geo.CITIES[c].name for c in pop.city],
            "Country": geo.CITY_COUNTRY[pop.city],
            "Latitude": geo.CITY_LAT[pop.city],
            "Longitude": geo.CITY_LON[pop.city],
            "UtcOffset": pop.offset,
            "WorkStart": pop.start,
            "WorkHours": pop.hours,
            "Devices": [[d for d in row if d] for row in pop.devices],
            "HomeASN": geo.NETWORK_ASN[pop.home_net],
            "MobileASN": geo.NETWORK_ASN[pop.mobile_net],
            "HomeIP": pop.home_ip.to_numpy(zero_copy_only=False),
            "AuthMethod": np.array(METHODS, dtype=object)[pop.sso_method],
            "Bastion": np.array(HOSTS, dtype=object)[pop.bastion],
            "Dormant": pop.dormant,
        }
    )


def _seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    if seed >= 2**63:
        raise InputError(f"seed must be below 2**63, got {seed}")
    return int(seed)


def generate_auth_events(
    users: int = 500,
    days: int = 14,
    seed: int = 0,
    start: datetime | str | pd.Timestamp | None = None,
    incident_scale: float = 1.0,
    clean_days: int = 0,
) -> pd.DataFrame:
    """Generate labelled authentication events for a synthetic company.

    Parameters
    ----------
    users : int
        Number of user accounts (10 to ``MAX_USERS``); about 3 % are dormant.
    days : int
        Length of the window in days (3 to ``MAX_DAYS``); ``users * days`` is at most
        ``MAX_USER_DAYS``.
    seed : int
        Seed for every random choice; the same arguments give identical output.
    start : datetime, str or pandas.Timestamp, optional
        First day of the window, in UTC (a naive value is taken as UTC; the time of day is
        dropped). Default :data:`DEFAULT_START`.
    incident_scale : float
        Multiplier on incident rates (see :func:`incident_counts`); 0 for no incidents.
    clean_days : int
        Days at the start of the window with no incident at all (0 to ``days - 2``): a clean
        reference window for per-user baselines.

    Returns
    -------
    pandas.DataFrame
        One row per event with the ``auth_events`` columns (:data:`COLUMNS`) and dtypes
        (``EventTime`` is ``datetime64[ms, UTC]``), ordered by ``EventTime``.

    Raises
    ------
    InputError
        When an argument is out of range or ``start`` is not a date.

    Examples
    --------
    >>> events = generate_auth_events(users=50, days=7, seed=1)
    >>> sorted(set(events.loc[events["label"] == "attack", "actor"])) == sorted(INCIDENT_TYPES)
    True
    """
    return _generate(users, days, seed, start, incident_scale, clean_days).to_pandas()


def _generate(
    users: Any, days: Any, seed: Any, start: Any, incident_scale: Any, clean_days: Any
) -> pa.Table:
    """Check the arguments, simulate, inject, and return the rows as an Arrow table."""
    users, days = check_size(users, days)
    seed = _seed(seed)
    counts = incident_counts(users, days, incident_scale)
    clean_days = check_integer("clean_days", clean_days, 0, days - 2)
    first_day = _first_day(start)
    pop = build_population(users, seed)
    trips = plan_trips(pop, days, seed)
    ev = EventColumns()
    anchors = simulate_users(pop, trips, days, first_day.day_of_week, seed, ev)
    scene = Scene(pop, trips, anchors, days * 24.0, ev, np.zeros(users, bool), clean_days * 24.0)
    inject_incidents(scene, counts, seed)
    return _table(ev.build(), pop, first_day, seed)


_SCHEMA = pa.schema(
    [
        ("EventID", pa.string()), ("EventTime", pa.timestamp("ms", tz="UTC")),
        ("Host", pa.string()), ("Service", pa.string()), ("EventType", pa.string()),
        ("User", pa.string()), ("UserValid", pa.uint8()), ("Success", pa.uint8()),
        ("AuthMethod", pa.string()), ("SourceIP", pa.string()), ("SourcePort", pa.uint16()),
        ("SourceASN", pa.uint32()), ("SourceCountry", pa.string()), ("Latitude", pa.float64()),
        ("Longitude", pa.float64()), ("Device", pa.string()), ("Department", pa.string()),
        ("TargetUser", pa.string()), ("Command", pa.string()), ("Raw", pa.string()),
        ("Repeats", pa.uint32()), ("Source", pa.string()), ("label", pa.string()), ("actor", pa.string()),
        ("campaign", pa.string()),
    ]
)  # fmt: skip
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _table(c: dict[str, Any], pop: Population, first_day: pd.Timestamp, seed: int) -> pa.Table:
    """Turn accumulated columns into ``auth_events`` rows ordered by time."""
    order = np.lexsort((np.arange(len(c["t"])), c["t"]))
    c = {k: v.take(pa.array(order)) if isinstance(v, pa.Array) else v[order] for k, v in c.items()}
    n = len(order)
    ms = np.round(c["t"] * 3_600_000).astype(np.int64)
    stamp = np.datetime64(first_day.tz_localize(None), "ms") + ms.astype("timedelta64[ms]")
    u, inc = c["u"].astype(np.int64), c["incident"].astype(np.int64)
    attack = inc >= 0
    numbers, first_row = np.unique(inc[attack], return_index=True)
    rank = np.zeros(inc.max(initial=0) + 1, np.int64)
    rank[numbers[np.argsort(first_row)]] = np.arange(len(numbers))  # numbered by start time
    campaigns = [f"inc-{r + 1:04d}" for r in range(len(numbers))] + [""]
    rng = stream_rng(seed, "ids")
    ids = rng.integers(0, 2**63 - 1, n, dtype=np.int64)
    while n > 1 and (np.diff(np.sort(ids)) == 0).any():  # a 63-bit collision: practically never
        ids = rng.integers(0, 2**63 - 1, n, dtype=np.int64)
    nibbles = (ids.astype(np.uint64)[:, None] >> np.arange(60, -4, -4, dtype=np.uint64)) & 15
    known, who = u >= 0, np.maximum(u, 0)
    cols = {
        "EventID": as_text(_HEX[nibbles].view("S16").ravel()),
        "EventTime": pa.array(stamp, pa.timestamp("ms")).cast(pa.timestamp("ms", tz="UTC")),
        "Host": c["host"],
        "Service": c["service"],
        "EventType": c["etype"],
        "User": pc.if_else(known, lookup(pop.name, who), c["user"]),
        "UserValid": c["valid"],
        "Success": c["success"],
        "AuthMethod": c["method"],
        "SourceIP": c["ip"],
        "SourcePort": c["port"],
        "SourceASN": geo.NETWORK_ASN[c["net"]],
        "SourceCountry": lookup(geo.CITY_COUNTRY, c["city"]),
        "Latitude": geo.CITY_LAT[c["city"]],
        "Longitude": geo.CITY_LON[c["city"]],
        "Device": c["device"],
        "Department": pc.if_else(known, lookup(tuple(DEPARTMENTS), pop.dept[who]), ""),
        "TargetUser": c["target"],
        "Command": c["command"],
        "Repeats": pa.array(np.ones(n, np.uint32)),  # every synthetic row is one event
        "Source": lookup((source_of(seed),), np.zeros(n, np.int32)),
        "label": lookup(("normal", "attack"), attack.astype(np.int32)),
        "actor": c["actor"],
        "campaign": lookup(campaigns, np.where(attack, rank[np.maximum(inc, 0)], len(numbers))),
    }
    arrays = {
        name: v if isinstance(v, pa.Array) else as_text(v, _SCHEMA.field(name).type)
        for name, v in cols.items()
    }
    arrays["Raw"] = _render(arrays, c["pid"])
    return pa.table([arrays[f.name] for f in _SCHEMA], schema=_SCHEMA)


def _cat(*parts: Any) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _render(a: dict[str, pa.Array], pid: np.ndarray) -> pa.Array:
    """Render a log line per event: syslog for SSH hosts, key=value for the IdP and VPN.

    Each kind of line is built only for its own rows, then the pieces are put back in order.
    """
    service, etype = (a[k].to_numpy(zero_copy_only=False) for k in ("Service", "EventType"))
    kinds = np.select(
        [service == "sudo", service != "sshd", etype == "login_success",
         etype == "login_failure", etype == "invalid_user"],
        [0, 1, 2, 3, 4], 5,
    )  # fmt: skip
    needs = {
        0: ("EventTime", "Host", "User", "Success", "TargetUser", "Command"),
        1: ("EventTime", "Host", "Service", "EventType", "User", "SourceIP", "SourcePort",
            "SourceASN", "SourceCountry", "AuthMethod", "Device", "Success", "TargetUser",
            "Command"),
    }  # fmt: skip
    ssh_needs = ("EventTime", "Host", "User", "SourceIP", "SourcePort", "AuthMethod")
    pieces, rows = [], []
    for kind in range(6):
        idx = np.flatnonzero(kinds == kind)
        if len(idx) == 0:
            continue
        rows.append(idx)
        take = pa.array(idx)
        f = {k: a[k].take(take) for k in needs.get(kind, ssh_needs)}
        if kind == 1:
            ok = pc.equal(f["Success"], 1)
            change = _cat(" target=", f["TargetUser"], f'@{DOMAIN} change="', f["Command"], '"')
            pieces.append(_cat(
                pc.strftime(f["EventTime"], format="%Y-%m-%dT%H:%M:%SZ"), " ", f["Host"], " ",
                f["Service"], ": event=", f["EventType"], " user=", f["User"], f"@{DOMAIN} src=",
                f["SourceIP"], ":", f["SourcePort"].cast(pa.string()), " asn=",
                f["SourceASN"].cast(pa.string()), " country=", f["SourceCountry"], " method=",
                f["AuthMethod"], ' device="', f["Device"], '" result=',
                pc.if_else(ok, "success", "failure"),
                pc.if_else(pc.equal(f["EventType"], "privilege_change"), change, ""),
            ))  # fmt: skip
            continue
        seconds = f["EventTime"].cast(pa.timestamp("s", tz="UTC"), safe=False)
        stamp = pc.strftime(seconds, format="%b %d %H:%M:%S")  # syslog pads the day with a space
        head = _cat(
            pc.replace_substring_regex(stamp, pattern=r"^(\w{3}) 0", replacement=r"\1  "), " ",
            pc.replace_substring(f["Host"], f".{DOMAIN}", ""),
        )  # fmt: skip
        user = f["User"]
        if kind == 0:
            failed = pc.if_else(pc.equal(f["Success"], 1), "", "3 incorrect password attempts ; ")
            pieces.append(_cat(
                head, " sudo: ", user, " : ", failed, "TTY=pts/0 ; PWD=/home/", user,
                " ; USER=", f["TargetUser"], " ; COMMAND=", f["Command"],
            ))  # fmt: skip
            continue
        sshd = _cat(head, " sshd[", pa.array(pid[idx]).cast(pa.string()), "]: ")
        src = _cat(" from ", f["SourceIP"], " port ", f["SourcePort"].cast(pa.string()))
        if kind == 2:
            pieces.append(_cat(sshd, "Accepted ", f["AuthMethod"], " for ", user, src, " ssh2"))
        elif kind == 3:
            pieces.append(_cat(sshd, "Failed password for ", user, src, " ssh2"))
        elif kind == 4:
            pieces.append(_cat(sshd, "Invalid user ", user, src))
        else:
            pieces.append(_cat(sshd, "pam_unix(sshd:session): session closed for user ", user))
    if not pieces:
        return pa.array([], pa.string())
    perm = np.concatenate(rows)
    inverse = np.empty_like(perm)
    inverse[perm] = np.arange(len(perm))
    return pa.concat_arrays(pieces).take(pa.array(inverse))


def summarize_incidents(events: pd.DataFrame) -> pd.DataFrame:
    """List the injected incidents: the ground truth detectors are scored against.

    Parameters
    ----------
    events : pandas.DataFrame
        Events as returned by :func:`generate_auth_events` or read back from the table.

    Returns
    -------
    pandas.DataFrame
        One row per campaign, ordered by it: ``campaign``, ``actor``, ``first_seen``,
        ``last_seen``, ``events``, ``users`` and ``source_ips`` (sorted lists).

    Raises
    ------
    InputError
        When a needed column is missing.
    """
    need = {"campaign", "actor", "label", "EventTime", "User", "SourceIP"}
    missing = sorted(need - set(events.columns))
    if missing:
        raise InputError(f"events lack column(s) {missing}")
    g = events[events["label"] == "attack"].groupby("campaign", sort=True)
    return pd.DataFrame(
        {
            "actor": g["actor"].first(),
            "first_seen": g["EventTime"].min(),
            "last_seen": g["EventTime"].max(),
            "events": g.size(),
            "users": g["User"].agg(lambda s: sorted(set(s))),
            "source_ips": g["SourceIP"].agg(lambda s: sorted(set(s))),
        }
    ).reset_index()


def write_auth_events(
    store: Any,
    users: int = 500,
    days: int = 14,
    seed: int = 0,
    start: datetime | str | pd.Timestamp | None = None,
    incident_scale: float = 1.0,
    clean_days: int = 0,
    replace: bool = True,
    table: str = "auth_events",
    chunk_rows: int = 50_000,
    progress: bool = True,
) -> int:
    """Generate synthetic authentication events and insert them into the store.

    Parameters
    ----------
    store : workbench.store.Store
        An open store (embedded or server).
    users, days, seed, start, incident_scale, clean_days
        As for :func:`generate_auth_events`.
    replace : bool
        First delete the rows an earlier run with this seed wrote (same ``Source``), so
        re-running does not duplicate them.
    table : str
        Destination table (checked as an identifier).
    chunk_rows : int
        Rows per insert.
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    int
        Number of rows inserted.

    Raises
    ------
    InputError
        When an argument is out of range.
    InvalidIdentifier
        When ``table`` is not a plain identifier.
    StoreError
        When the store rejects the delete or an insert.
    """
    from tqdm import tqdm

    table = check_identifier(table)
    chunk_rows = check_integer("chunk_rows", chunk_rows, 1, 10_000_000)
    rows = _generate(users, days, seed, start, incident_scale, clean_days)
    if replace:
        store.mutate(
            table,
            "DELETE WHERE Source = {source:String}",
            parameters={"source": source_of(seed)},
            settings={"mutations_sync": 2},
        )
    written = 0
    with tqdm(total=rows.num_rows, desc=table, unit="rows", disable=not progress) as bar:
        for lo in range(0, rows.num_rows, chunk_rows):
            written += store.insert_arrow(table, rows.slice(lo, chunk_rows))
            bar.update(min(chunk_rows, rows.num_rows - lo))
    return written
