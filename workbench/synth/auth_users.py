"""The synthetic workforce behind ``auth_events``: people, their habits, their own sign-ins.

A remote-first company: every user has a department, a home city (so a country, a UTC offset
and a home ISP), 1-3 devices, working hours in local time, a weekday pattern and a sign-in
method. Engineers and IT also log in over SSH to a bastion host and run ``sudo``; IT admins
change other users' groups. Some users travel (a flight takes distance / 800 km/h plus an hour,
so successive sign-ins never imply a faster move), some mistype passwords or user names, some
reset their password, and about 3 % of accounts are dormant: seen on the first day only.

Times are float hours since the start of the window; :mod:`workbench.synth.auth` turns the
accumulated columns into ``auth_events`` rows.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench.errors import InputError
from workbench.synth import geo

DOMAIN = "corp.example"
#: Hosts that log events: the identity provider, the VPN, three SSH bastions.
HOSTS = (f"sso.{DOMAIN}", f"vpn.{DOMAIN}", *(f"bastion-{k:02d}.{DOMAIN}" for k in (1, 2, 3)))
SERVICES = ("sso", "vpn", "sshd")
METHODS = ("password+mfa_push", "password+totp", "webauthn", "certificate+password", "publickey")


@dataclass(frozen=True)
class Department:
    """How one department works: where people live, when and how they sign in."""

    weight: float  # share of the workforce
    countries: dict[str, float]  # home country weights
    start: float  # mean local start hour
    hours: float  # length of the working day
    weekday: float  # P(active on a weekday)
    weekend: float  # P(active on a weekend day)
    sessions: float  # mean extra sign-ins on an active day
    services: tuple[float, float, float]  # P(sso), P(vpn), P(sshd)
    laptops: tuple[str, ...]  # device kinds their main device is drawn from
    travel: float  # P(a trip) per 30 days
    offhours: float  # share of sign-ins at any hour of the day
    shifts: tuple[float, ...] = field(default=())  # shift start hours, replacing `start`


# fmt: off
# Department(weight, home countries, start, hours, P(weekday), P(weekend), extra sign-ins,
#            P(sso, vpn, sshd), laptop kinds, P(trip) per 30 days, off-hours share[, shifts])
DEPARTMENTS: dict[str, Department] = {
    "engineering": Department(.28, {"US": 35, "DE": 15, "PL": 15, "IN": 15, "GB": 10, "CA": 5,
                                    "BR": 5}, 9.5, 8.5, .93, .12, 3.0, (.55, .15, .30),
                              ("macos", "linux", "windows"), .15, .05),
    "sales": Department(.16, {"US": 40, "GB": 15, "FR": 10, "DE": 10, "JP": 8, "AU": 7, "BR": 5,
                              "CA": 5}, 8.5, 9.0, .95, .08, 3.5, (.9, .1, 0),
                        ("macos", "windows"), .8, .04),
    "marketing": Department(.07, {"US": 50, "GB": 20, "FR": 15, "JP": 15}, 9.5, 8.0, .94, .06,
                            2.5, (.95, .05, 0), ("macos",), .25, .03),
    "finance": Department(.09, {"US": 60, "GB": 25, "DE": 15}, 8.0, 8.5, .96, .03, 2.0,
                          (.85, .15, 0), ("windows",), .1, .015),
    "hr": Department(.06, {"US": 60, "GB": 20, "IN": 20}, 8.5, 8.0, .95, .02, 2.0, (.9, .1, 0),
                     ("windows", "macos"), .08, .01),
    "it": Department(.10, {"US": 40, "IN": 25, "PL": 20, "DE": 15}, 8.0, 9.0, .95, .25, 4.0,
                     (.4, .2, .4), ("windows", "linux"), .1, .08),
    "support": Department(.16, {"PH": 35, "IN": 25, "US": 25, "GB": 15}, 0.0, 8.0, .85, .5,
                          2.5, (.95, .05, 0), ("windows",), .03, .02, shifts=(6.0, 14.0, 22.0)),
    "legal": Department(.08, {"US": 70, "GB": 30}, 9.0, 9.0, .95, .05, 2.0, (.9, .1, 0),
                        ("windows", "macos"), .12, .02),
}
DEVICES = {  # kind: (label, browsers, mobile)
    "windows": ("Windows 11 laptop", ("Edge", "Chrome"), False),
    "macos": ("MacBook (macOS 14)", ("Safari", "Chrome"), False),
    "linux": ("Linux workstation (Ubuntu 22.04)", ("Firefox", "Chrome"), False),
    "iphone": ("iPhone (iOS 17)", ("Safari",), True),
    "android": ("Android phone (Android 14)", ("Chrome",), True),
    "ipad": ("iPad (iPadOS 17)", ("Safari",), True),
}
_MOBILE_KINDS = ("iphone", "android", "ipad")
_FIRST = (
    "james mary robert patricia john jennifer michael linda david elizabeth william barbara "
    "richard susan joseph jessica thomas sarah charles karen wei li priya rahul aisha omar "
    "sofia mateo lucas emma noah olivia yuki haruto anna piotr katarzyna jan lena felix mia "
    "leon hannah chloe hugo ines diego camila luis ana juan maria arjun ananya chen ming "
    "fatima ali nguyen minh kwame amara ivan olga"
).split()
_LAST = (
    "smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez "
    "gonzalez wilson anderson thomas taylor moore jackson martin lee perez thompson white "
    "harris clark lewis robinson walker young allen king wright scott green baker adams nelson "
    "hill campbell mitchell roberts carter phillips evans turner torres parker collins edwards "
    "stewart morris murphy cook rogers morgan cooper peterson reed bailey kowalski nowak "
    "wisniewski muller schmidt schneider fischer weber meyer wagner becker dubois bernard "
    "moreau laurent kumar sharma patel singh gupta reddy santos silva oliveira costa tanaka "
    "suzuki sato watanabe wang zhang liu chen yang huang"
).split()
_SUDO = (
    "/usr/bin/systemctl restart nginx", "/usr/bin/journalctl -u api --since today",
    "/usr/bin/apt-get update", "/usr/bin/apt-get install -y htop", "/usr/bin/docker ps",
    "/usr/bin/tail -n 200 /var/log/syslog", "/usr/bin/kubectl get pods -A",
    "/usr/bin/systemctl status postgresql",
)
_ADMIN_CHANGES = (
    "add group 'vpn-users'", "add group 'jira-users'", "remove group 'contractors'",
    "add role 'Helpdesk Operator'", "reset mfa", "add group 'finance-readonly'",
)
# fmt: on
_EPHEMERAL = (32768, 61000)  # client source ports
MAX_USERS = 200_000
MAX_DAYS = 366
#: Users x days per run: about 5 million events, a few GB of memory at peak.
MAX_USER_DAYS = 1_000_000


def check_integer(name: str, value: Any, low: int, high: int) -> int:
    """Return ``value`` as an int if it is an integer from ``low`` to ``high``, else raise.

    Parameters
    ----------
    name : str
        Argument name, for the message.
    value : Any
        What was given.
    low, high : int
        Inclusive bounds.

    Returns
    -------
    int
        The value.

    Raises
    ------
    InputError
        When ``value`` is not an integer (booleans included) or out of range.
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InputError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise InputError(f"{name}={value} is out of range: use {low} to {high}")
    return int(value)


def check_size(users: Any, days: Any) -> tuple[int, int]:
    """Check the population and window size of a run.

    Parameters
    ----------
    users, days : int
        Number of users (10 to :data:`MAX_USERS`) and days (3 to :data:`MAX_DAYS`).

    Returns
    -------
    tuple of int
        ``(users, days)``.

    Raises
    ------
    InputError
        When either is out of range or their product exceeds :data:`MAX_USER_DAYS`.
    """
    users = check_integer("users", users, 10, MAX_USERS)
    days = check_integer("days", days, 3, MAX_DAYS)
    if users * days > MAX_USER_DAYS:
        raise InputError(
            f"users x days = {users * days:,} is more than one run holds ({MAX_USER_DAYS:,}); "
            "use fewer users or days"
        )
    return users, days


def stream_rng(seed: int, stream: str) -> np.random.Generator:
    """Return the random generator of one named stream of ``seed``.

    Every part of the generator draws from its own stream, so adding draws to one part
    (or one more incident) never shifts the others.

    Parameters
    ----------
    seed : int
        The run's seed.
    stream : str
        Name of the part (``"users"``, ``"brute_force"`` ...).

    Returns
    -------
    numpy.random.Generator
        A generator determined by ``(seed, stream)`` alone.
    """
    key = (zlib.crc32(stream.encode()),)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


@dataclass
class Population:
    """Per-user arrays (index = user) describing who everyone is and how they work."""

    name: np.ndarray
    dept: np.ndarray  # index into DEPARTMENTS
    city: np.ndarray  # index into geo.CITIES
    offset: np.ndarray  # UTC offset of the home city, hours
    start: np.ndarray  # local hour the working day starts
    hours: np.ndarray
    weekday: np.ndarray
    weekend: np.ndarray
    sessions: np.ndarray
    offhours: np.ndarray
    typo: np.ndarray
    services: np.ndarray  # (n, 3) cumulative P(sso), P(sso or vpn), 1
    devices: np.ndarray  # (n, 3) device strings, '' where absent; the first is a laptop
    device_cum: np.ndarray  # (n, 3) cumulative choice weights
    mobile: np.ndarray  # (n, 3) bool
    home_net: np.ndarray  # index into geo.NETWORKS
    mobile_net: np.ndarray
    home_ip: pa.Array
    sso_method: np.ndarray  # index into METHODS (one of the first three)
    bastion: np.ndarray  # index into HOSTS
    dormant: np.ndarray

    @property
    def ssh_users(self) -> np.ndarray:
        """Boolean mask of users who ever log in over SSH."""
        return self.services[:, 1] < 1.0


def build_population(n: int, seed: int) -> Population:
    """Draw ``n`` users with their departments, homes, devices and habits.

    Parameters
    ----------
    n : int
        Number of users.
    seed : int
        Seed (the ``"users"`` stream).

    Returns
    -------
    Population
        The users.
    """
    rng = stream_rng(seed, "users")
    names = list(DEPARTMENTS)
    w = np.array([DEPARTMENTS[d].weight for d in names])
    dept = rng.choice(len(names), n, p=w / w.sum())
    city = np.empty(n, np.int64)
    start = np.empty(n)
    hours = np.empty(n)
    for k, dname in enumerate(names):  # per department, vectorised over its users
        d, idx = DEPARTMENTS[dname], np.flatnonzero(dept == k)
        cw = np.array(list(d.countries.values()), dtype=float)
        country = np.array(list(d.countries))[rng.choice(len(cw), len(idx), p=cw / cw.sum())]
        city[idx] = geo.choose_per_group(rng, country, {c: geo.cities_in(c) for c in country})
        shifts = np.array(d.shifts)[rng.integers(0, len(d.shifts), len(idx))] if d.shifts else None
        base = d.start if shifts is None else shifts
        start[idx] = (base + rng.normal(0, 0.5, len(idx))) % 24
        hours[idx] = np.clip(d.hours + rng.normal(0, 0.5, len(idx)), 6, 11)
    prof = [DEPARTMENTS[names[k]] for k in dept]

    laptop = np.array([p.laptops[rng.integers(len(p.laptops))] for p in prof])
    phone = np.array(_MOBILE_KINDS)[rng.integers(0, 3, n)]
    kinds = np.stack([laptop, phone, np.where(rng.random(n) < 0.5, "ipad", laptop)], axis=1)
    present = np.arange(3)[None, :] < rng.choice([1, 2, 3], n, p=[0.3, 0.5, 0.2])[:, None]
    hexid = rng.integers(0, 2**32, (n, 3))
    browser = rng.integers(0, 2, (n, 3))
    devices = np.full((n, 3), "", dtype=object)
    for i, j in zip(*np.nonzero(present), strict=True):
        label, browsers, _ = DEVICES[kinds[i, j]]
        devices[i, j] = f"{label} / {browsers[browser[i, j] % len(browsers)]} [{hexid[i, j]:08x}]"
    weight = np.where(present, np.array([1.0, 0.35, 0.2]), 0.0)

    country = geo.CITY_COUNTRY[city]
    home_net = _pick_nets(rng, country, "residential")
    mobile_net = _pick_nets(rng, country, "mobile")
    first = np.array(_FIRST)[rng.integers(0, len(_FIRST), n)]
    last = np.array(_LAST)[rng.integers(0, len(_LAST), n)]
    base_name = pd.Series(np.char.add(np.char.add(first, "."), last))
    dup = base_name.groupby(base_name).cumcount().to_numpy()
    name = np.where(dup > 0, base_name + (dup + 1).astype(str), base_name).astype(object)
    svc = np.array([p.services for p in prof])
    services = np.cumsum(svc / svc.sum(1, keepdims=True), 1)
    services[:, 2] = 1.0
    services[svc[:, 2] == 0, 1] = 1.0  # exactly 1, so "never SSH" stays exact
    dormant = np.zeros(n, bool)
    dormant[rng.choice(n, max(1, round(0.03 * n)), replace=False)] = True
    per_dept = {
        key: np.array([getattr(DEPARTMENTS[d], key) for d in names])[dept]
        for key in ("weekday", "weekend", "sessions", "offhours")
    }
    return Population(
        name=name,
        dept=dept,
        city=city,
        offset=geo.CITY_OFFSET[city],
        start=start,
        hours=hours,
        weekday=np.clip(per_dept["weekday"] + rng.normal(0, 0.03, n), 0.5, 1),
        weekend=np.clip(per_dept["weekend"] * rng.uniform(0.3, 1.7, n), 0, 1),
        sessions=per_dept["sessions"] * rng.uniform(0.5, 1.5, n),
        offhours=per_dept["offhours"] * rng.uniform(0.3, 1.7, n),
        typo=rng.uniform(0.01, 0.08, n),
        services=services,
        devices=devices,
        device_cum=np.cumsum(weight / weight.sum(1, keepdims=True), 1),
        mobile=np.isin(kinds, _MOBILE_KINDS) & present,
        home_net=home_net,
        mobile_net=mobile_net,
        home_ip=geo.sample_ips(rng, home_net),
        sso_method=rng.choice(3, n, p=[0.75, 0.15, 0.1]),
        bastion=rng.integers(2, 5, n),
        dormant=dormant,
    )


def _pick_nets(rng: np.random.Generator, countries: np.ndarray, kind: str) -> np.ndarray:
    """Pick a network of ``kind`` in each country (any network there if it has none)."""
    pools = {}
    for c in np.unique(countries):
        nets = geo.networks_in(c, kind)
        pools[c] = nets if len(nets) else geo.networks_in(c)
    return geo.choose_per_group(rng, countries, pools)


@dataclass
class Trips:
    """At most one trip per user, as hours since the start of the window."""

    has: np.ndarray
    city: np.ndarray
    offset: np.ndarray
    net: np.ndarray
    ip: pa.Array
    first_day: np.ndarray
    last_day: np.ndarray
    depart: np.ndarray  # leaves home
    arrive: np.ndarray  # lands at the destination
    ret_depart: np.ndarray
    ret_arrive: np.ndarray

    def state(self, u: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Return 0 where user ``u`` is home at ``t``, 1 at the destination, 2 in transit."""
        h = self.has[u]
        dest = h & (t >= self.arrive[u]) & (t < self.ret_depart[u])
        transit = h & (
            ((t >= self.depart[u]) & (t < self.arrive[u]))
            | ((t >= self.ret_depart[u]) & (t < self.ret_arrive[u]))
        )
        return np.where(transit, 2, np.where(dest, 1, 0))


def plan_trips(pop: Population, days: int, seed: int) -> Trips:
    """Draw business trips: domestic or abroad, 1-5 days, flights of realistic length.

    Parameters
    ----------
    pop : Population
        The users (dormant ones never travel).
    days : int
        Window length.
    seed : int
        Seed (the ``"trips"`` stream).

    Returns
    -------
    Trips
        One (possibly absent) trip per user.
    """
    rng = stream_rng(seed, "trips")
    n = len(pop.name)
    rate = np.array([d.travel for d in DEPARTMENTS.values()])[pop.dept]
    has = (rng.random(n) < 1 - np.exp(-rate * days / 30)) & ~pop.dormant
    home = pop.city
    dest = rng.integers(0, len(geo.CITIES) - 1, n)
    dest += dest >= home  # any other city...
    domestic = rng.random(n) < 0.35
    for country in np.unique(geo.CITY_COUNTRY[home]):
        pool = geo.cities_in(country)
        rows = np.flatnonzero(domestic & (geo.CITY_COUNTRY[home] == country))
        if len(pool) > 1 and len(rows):  # ...or another city of the same country
            j = rng.integers(0, len(pool) - 1, len(rows))
            dest[rows] = pool[j + (j >= np.searchsorted(pool, home[rows]))]
    first = rng.integers(0, days - 1, n)
    last = np.minimum(first + rng.integers(1, 6, n), days - 1)
    dist = geo.haversine_km(
        geo.CITY_LAT[pop.city], geo.CITY_LON[pop.city], geo.CITY_LAT[dest], geo.CITY_LON[dest]
    )
    flight = dist / 800.0 + 1.0
    offset = geo.CITY_OFFSET[dest]
    depart = first * 24 + rng.uniform(7, 19, n) - pop.offset
    arrive = depart + flight
    ret_depart = np.maximum(last * 24 + rng.uniform(8, 20, n) - offset, arrive + 12)
    net = _pick_nets(rng, geo.CITY_COUNTRY[dest], "residential")
    return Trips(
        has=has,
        city=dest,
        offset=offset,
        net=net,
        ip=geo.sample_ips(rng, net),
        first_day=first,
        last_day=last,
        depart=depart,
        arrive=arrive,
        ret_depart=ret_depart,
        ret_arrive=ret_depart + flight,
    )


def lookup(vocabulary: tuple[str, ...] | np.ndarray | pa.Array, codes: np.ndarray) -> pa.Array:
    """Return ``vocabulary[codes]`` as an Arrow string array (vectorised, no Python loop).

    Parameters
    ----------
    vocabulary : sequence of str or pyarrow.Array
        The distinct strings.
    codes : numpy.ndarray of int
        Positions in ``vocabulary``.

    Returns
    -------
    pyarrow.StringArray
        One string per code.
    """
    vocab = vocabulary if isinstance(vocabulary, pa.Array) else pa.array(vocabulary, pa.string())
    codes = np.asarray(codes)
    index = pa.int32() if len(vocab) < 2**31 else pa.int64()
    return pa.DictionaryArray.from_arrays(pa.array(codes, index), vocab).cast(pa.string())


def as_text(values: Any, type: pa.DataType | None = None) -> pa.Array:
    """Convert to one contiguous Arrow array (strings by default), never a chunked one.

    ``pyarrow.array`` splits large numpy string arrays into chunks; this joins them.
    """
    arr = pa.array(values, type or pa.string())
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _take(values: np.ndarray | pa.Array, rows: np.ndarray) -> np.ndarray | pa.Array:
    if isinstance(values, pa.Array):
        return values.take(pa.array(rows, pa.int64()))
    return values[rows]


class EventColumns:
    """Event columns accumulated block by block (scalars broadcast), then concatenated.

    Numeric columns are numpy arrays; text columns are Arrow string arrays, so millions of
    repeated strings never become Python objects. ``u`` is the user index (-1 for a name that
    is no user, then ``user`` holds the name), ``t`` hours since the start, ``net`` and
    ``city`` indices into :mod:`geo` tables, ``incident`` the incident number (-1 for users'
    own events).
    """

    NUMERIC = {"u": -1, "valid": 1, "t": 0.0, "success": 0, "port": 0, "net": -1, "city": -1,
               "pid": 0, "incident": -1}  # fmt: skip
    TEXT = {"user": "", "etype": "", "service": "", "method": "", "ip": "", "device": "",
            "target": "", "command": "", "host": "", "actor": "user"}  # fmt: skip

    def __init__(self) -> None:
        self.parts: dict[str, list] = {k: [] for k in (*self.NUMERIC, *self.TEXT)}

    def add(self, n: int, **cols: Any) -> None:
        """Append ``n`` events; each column is a scalar or an array (numpy or Arrow) of ``n``."""
        unknown = set(cols) - set(self.parts)
        if unknown:
            raise TypeError(f"unknown event columns {sorted(unknown)}")
        for key, default in self.NUMERIC.items():
            self.parts[key].append(np.broadcast_to(np.asarray(cols.get(key, default)), (n,)))
        for key, default in self.TEXT.items():
            value = cols.get(key, default)
            if isinstance(value, str):
                arr = lookup((value,), np.zeros(n, np.int32))
            elif isinstance(value, pa.Array):
                arr = value
            else:
                arr = as_text(np.asarray(value, dtype=object))
            if len(arr) != n:
                raise ValueError(f"column {key} has {len(arr)} values for {n} events")
            self.parts[key].append(arr)

    def build(self) -> dict[str, np.ndarray | pa.Array]:
        """Return every column as one array (numpy for numbers, Arrow for text)."""
        out: dict[str, np.ndarray | pa.Array] = {
            k: np.concatenate(self.parts[k]) for k in self.NUMERIC
        }
        for k in self.TEXT:
            out[k] = pa.chunked_array(self.parts[k], pa.string()).combine_chunks()
        return out


def host_of(service: str | np.ndarray, u: np.ndarray, pop: Population) -> pa.Array:
    """Return the host that logs each event: the IdP, the VPN or the user's bastion."""
    service = np.broadcast_to(np.asarray(service, dtype=object), np.shape(u))
    code = np.select(
        [np.isin(service, ("sso", "admin")), service == "vpn"],
        [0, 1],
        pop.bastion[np.maximum(u, 0)],
    )
    return lookup(HOSTS, code)


def simulate_users(
    pop: Population, trips: Trips, days: int, weekday0: int, seed: int, ev: EventColumns
) -> dict[str, np.ndarray]:
    """Add every user's own activity to ``ev``, vectorised over all sessions.

    Parameters
    ----------
    pop, trips : Population, Trips
        Who the users are and when they travel.
    days : int
        Window length.
    weekday0 : int
        Weekday of the first day (Monday = 0).
    seed : int
        Seed (the ``"sessions"`` and ``"extras"`` streams).
    ev : EventColumns
        Where events go.

    Returns
    -------
    dict of str to numpy.ndarray
        The successful sign-ins of non-dormant users (``u``, ``t``, ``home``, ``service``),
        which incidents use as anchors.
    """
    rng = stream_rng(seed, "sessions")
    n = len(pop.name)
    weekend = (weekday0 + np.arange(days)) % 7 >= 5
    p = np.where(weekend[None, :], pop.weekend[:, None], pop.weekday[:, None])
    p[pop.dormant] = 0.0
    p[pop.dormant, 0] = 1.0  # dormant accounts: last seen on the first day
    uu, dd = np.nonzero(rng.random((n, days)) < p)
    k = 1 + rng.poisson(pop.sessions[uu])
    u, d = np.repeat(uu, k), np.repeat(dd, k)
    jitter = np.repeat(rng.normal(0, 0.4, len(uu)), k)  # some days start late
    m = len(u)
    work = pop.start[u] + jitter + rng.uniform(0, 1, m) * pop.hours[u]
    local = np.where(rng.random(m) < pop.offhours[u], rng.uniform(0, 24, m), work)
    inside = trips.has[u] & (d > trips.first_day[u]) & (d < trips.last_day[u])
    t = d * 24 + local - np.where(inside, trips.offset[u], pop.offset[u])
    state = trips.state(u, t)
    keep = (state < 2) & (t >= 0) & (t < days * 24)
    u, t, state = u[keep], t[keep], state[keep]
    m = len(u)
    draw = rng.random(m)
    svc = np.select([draw < pop.services[u, 0], draw < pop.services[u, 1]], [0, 1], 2)
    dev = (rng.random(m)[:, None] > pop.device_cum[u]).sum(1).clip(0, 2)
    dev[svc != 0] = 0  # VPN and SSH only from the laptop
    mob = pop.mobile[u, dev]
    away = state == 1
    net = np.where(away, trips.net[u], np.where(mob, pop.mobile_net[u], pop.home_net[u]))
    at_home = pc.if_else(mob, geo.sample_ips(rng, net), _take(pop.home_ip, u))
    ip = pc.if_else(away, _take(trips.ip, u), at_home)
    method = np.select([svc == 0, svc == 1], [pop.sso_method[u], 3], 4)
    sess = dict(
        u=u,
        ip=ip,
        net=net,
        city=np.where(away, trips.city[u], pop.city[u]),
        device=lookup(pop.devices.ravel(), u * 3 + dev),
        service=lookup(SERVICES, svc),
        host=lookup(HOSTS, np.select([svc == 0, svc == 1], [0, 1], pop.bastion[u])),
        method=lookup(METHODS, method),
        pid=rng.integers(1000, 65000, m),
    )
    port = rng.integers(*_EPHEMERAL, m)
    ev.add(m, t=t, etype="login_success", success=1, port=port, **sess)

    x = stream_rng(seed, "extras")

    def derived(idx: np.ndarray, dt_h: np.ndarray, **cols) -> None:
        """Add events ``dt_h`` hours after sessions ``idx`` where the user still is there."""
        te = t[idx] + dt_h
        ok = (te >= 0) & (te < days * 24) & (trips.state(u[idx], te) == state[idx])
        keep = np.flatnonzero(ok)
        base = {k: _take(v, idx[keep]) for k, v in sess.items() if k not in cols}
        more = {k: v if np.ndim(v) == 0 else _take(v, keep) for k, v in cols.items()}
        ev.add(len(keep), t=te[keep], **base, **more)

    def pick(options: tuple[str, ...], k: int) -> pa.Array:
        return lookup(options, x.integers(0, len(options), k))

    sso = np.flatnonzero(svc == 0)
    typo = np.flatnonzero((svc != 2) & (x.random(m) < pop.typo[u]))
    again = typo[x.random(len(typo)) < 0.25]
    for idx, lo, hi in ((typo, 8, 45), (again, 50, 120)):  # mistyped password(s), then success
        derived(idx, -x.uniform(lo, hi, len(idx)) / 3600, etype="login_failure",
                method="password", port=x.integers(*_EPHEMERAL, len(idx)))  # fmt: skip
    wrong = sso[x.random(len(sso)) < 0.004]
    taken = set(pop.name)
    typed = np.array([_mangle(s, x, taken) for s in pop.name[u[wrong]]], dtype=object)
    derived(wrong, -x.uniform(20, 90, len(wrong)) / 3600, etype="invalid_user", u=-1,
            user=typed, valid=0, method="password",
            port=x.integers(*_EPHEMERAL, len(wrong)))  # fmt: skip
    reset = sso[x.random(len(sso)) < 0.0015]
    derived(reset, -x.uniform(2, 15, len(reset)) / 60, etype="password_reset", success=1,
            method=pick(("email_link", "sms_otp", "helpdesk"), len(reset)),
            port=x.integers(*_EPHEMERAL, len(reset)))  # fmt: skip
    out = np.flatnonzero(x.random(m) < np.array([0.35, 0.8, 0.95])[svc])
    dur = np.clip(x.lognormal(np.log(1.5), 0.8, len(out)), 2 / 60, 10)
    derived(out, dur, etype="logout", success=1, port=port[out])
    su = np.repeat(np.arange(m), np.where(svc == 2, x.poisson(1.5, m), 0))
    derived(su, x.uniform(1, 90, len(su)) / 60, etype="sudo", service="sudo",
            method="password", success=(x.random(len(su)) > 0.02).astype(np.int64),
            target="root", command=pick(_SUDO, len(su)))  # fmt: skip
    it = list(DEPARTMENTS).index("it")
    adm = sso[(pop.dept[u[sso]] == it) & (x.random(len(sso)) < 0.08)]
    derived(adm, x.uniform(5, 120, len(adm)) / 60, etype="privilege_change", service="admin",
            success=1, target=pop.name[(u[adm] + x.integers(1, n, len(adm))) % n],
            command=pick(_ADMIN_CHANGES, len(adm)),
            port=x.integers(*_EPHEMERAL, len(adm)))  # fmt: skip
    ok = ~pop.dormant[u]
    return dict(u=u[ok], t=t[ok], home=(state == 0)[ok], ssh=(svc == 2)[ok])


def _mangle(name: str, rng: np.random.Generator, taken: set[str]) -> str:
    """Return a plausible user-name typo (a character dropped or doubled), no real user."""
    i = int(rng.integers(0, len(name)))
    out = name[:i] + name[i + 1 :] if rng.random() < 0.5 else name[:i] + name[i] + name[i:]
    while out in taken or out == name:
        out += "x"
    return out
