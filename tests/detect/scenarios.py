"""One small data set with a scenario per detector, each on its own accounts and addresses.

Every account has a reference week of ordinary sign-ins (09:00, 13:00, 17:00 UTC, one place,
one laptop); the scenarios happen in the detection week (days 7-13). ``EXPECTED`` says which
entities each detector must flag, and nothing else.
"""

from __future__ import annotations

from tests.detect.events import PARIS, SAO_PAULO, SYDNEY, at, ev, habits

#: The entities each detector must flag (exactly).
EXPECTED = {
    "brute_force": {"203.0.113.10", "203.0.113.13"},
    "password_spraying": {"198.51.100.20"},
    # bf.victim: the brute-forcer signed in from Sao Paulo between two Berlin sign-ins
    "impossible_travel": {"traveller.far", "bf.victim", "novel.reset"},
    "first_seen_country": {"novel.reset", "bf.victim", "traveller.far", "traveller.near"},
    "first_seen_asn": {"novel.reset", "bf.victim", "traveller.far", "traveller.near"},
    "first_seen_device": {"novel.reset", "admin.stranger", "ops.stranger", "bf.victim"},
    "off_hours": {"night.owl", "bf.victim"},
    "dormant_account": {"sleepy"},
    "privilege_escalation": {"admin.stranger", "ops.stranger"},
    # dozens of failed passwords in a day where colleagues fail none
    "peer_deviation": {"bf.victim", "bf.slow", "bf.few", "root"},
}
ACCOUNTS = [
    "bf.victim", "bf.slow", "bf.few", "nat.user", "traveller.far", "traveller.near",
    "novel.reset", "novel.new", "night.owl", "sleepy", "busy", "admin.stranger", "admin.usual",
    "ops.stranger", "quiet",
]  # fmt: skip


def _quiet_day(user: str, day: int, ip: str, **kw) -> list[dict]:
    return [ev(at(day, h), user, ip=ip, **kw) for h in (10, 14)]


def rows() -> list[dict]:
    """Return the whole data set."""
    out: list[dict] = []
    home = {u: f"192.0.2.{i + 10}" for i, u in enumerate(ACCOUNTS)}
    for user in ACCOUNTS:
        if user in ("sleepy", "novel.new"):
            continue
        out += habits(user, ip=home[user], device=f"laptop-{user}")
        for day in range(7, 14):
            out += _quiet_day(user, day, home[user], device=f"laptop-{user}")

    # brute force: 30 failures in 5 minutes then the password works (critical) ...
    out += [ev(at(8, 2, 0, 10 * i), "bf.victim", "login_failure", ip="203.0.113.10",
               place=SAO_PAULO, device="hydra", service="sshd", host="bastion-1")
            for i in range(30)]  # fmt: skip
    out.append(ev(at(8, 2, 5, 30), "bf.victim", ip="203.0.113.10", place=SAO_PAULO,
                  device="hydra", service="sshd", host="bastion-1"))  # fmt: skip
    # ... syslog folds repeats: 3 lines standing for 7 + 7 + 7 attempts, plus 1: 22 in all ...
    for i, n in enumerate((7, 7, 7, 1)):
        raw = (
            f"Mar 10 04:0{i}:00 bastion-1 sshd[9{i}]: message repeated {n} times: [ Failed "
            "password for root from 203.0.113.13 port 4000 ssh2]"
            if n > 1 else "Mar 10 04:03:00 bastion-1 sshd[93]: Failed password for root"
        )  # fmt: skip
        out.append(ev(at(8, 4, i), "root", "login_failure", ip="203.0.113.13", place=SAO_PAULO,
                      service="sshd", host="bastion-1", raw=raw))  # fmt: skip
    # ... 15 failures: below the threshold; 25 failures an hour apart: no burst
    out += [ev(at(9, 3, 0, 5 * i), "bf.few", "login_failure", ip="203.0.113.11") for i in range(15)]
    out += [ev(at(8, i), "bf.slow", "login_failure", ip="203.0.113.12") for i in range(25)]

    # password spraying: 15 accounts (3 unknown), one try each, in 8 minutes
    for i in range(15):
        known = i < 12
        name = f"staff{i:02d}" if known else f"guess{i}"
        out.append(ev(at(9, 22, 0, 30 * i), name, "login_failure" if known else "invalid_user",
                      ip="198.51.100.20", place=SAO_PAULO, valid=int(known),
                      device="python-requests/2.31"))  # fmt: skip
    # an office NAT: 12 people mistype their password once, then sign in: not a spray
    for i in range(12):
        t = at(10, 9, 2 * i)
        out.append(ev(t, f"office{i:02d}", "login_failure", ip="198.51.100.30"))
        out.append(ev(t + (at(0, 0, 0, 20) - at(0)), f"office{i:02d}", ip="198.51.100.30"))

    # impossible travel: Berlin then Sydney 30 minutes later; Berlin then Paris 4 hours later
    out.append(ev(at(9, 13), "traveller.far", ip=home["traveller.far"],
                  device="laptop-traveller.far"))  # fmt: skip
    out.append(ev(at(9, 13, 30), "traveller.far", ip="1.128.0.5", place=SYDNEY,
                  device="laptop-traveller.far"))  # fmt: skip
    out.append(ev(at(9, 13), "traveller.near", ip=home["traveller.near"],
                  device="laptop-traveller.near"))  # fmt: skip
    out.append(ev(at(9, 17, 5), "traveller.near", ip="90.0.0.5", place=PARIS,
                  device="laptop-traveller.near"))  # fmt: skip

    # first seen: a password reset, then a new country, network and device 40 minutes later
    out.append(ev(at(10, 12), "novel.reset", "password_reset", ip=home["novel.reset"]))
    out.append(ev(at(10, 12, 40), "novel.reset", ip="177.0.0.9", place=SAO_PAULO,
                  device="chrome-on-android"))  # fmt: skip
    # an account with 2 reference sign-ins has no baseline: nothing is "new" for it
    out += habits("novel.new", ip="192.0.2.200", days=range(5, 6), hours=(9, 13))
    out.append(ev(at(10, 12), "novel.new", ip="177.0.0.10", place=SAO_PAULO, device="phone"))

    # off hours: at 03:00 and 04:00 UTC, never seen before
    out += [ev(at(11, h), "night.owl", ip=home["night.owl"], device="laptop-night.owl")
            for h in (3, 4)]  # fmt: skip

    # dormant: signed in on day 0 only, then on day 12 from elsewhere
    out += habits("sleepy", ip=home["sleepy"], days=range(1), device="laptop-sleepy")
    out.append(ev(at(12, 10), "sleepy", ip="198.51.100.77", place=PARIS, device="laptop-sleepy"))

    # privilege escalation: a sign-in from a new device, then an admin role change ...
    out.append(ev(at(11, 10, 5), "admin.stranger", ip=home["admin.stranger"], device="unknown-pc"))
    out.append(ev(at(11, 10, 12), "admin.stranger", "privilege_change", service="admin",
                  ip=home["admin.stranger"], device="unknown-pc", target="admin.stranger",
                  command="add role 'Global Administrator'"))  # fmt: skip
    # ... the same change from the usual laptop is an administrator's ordinary work ...
    out.append(ev(at(11, 10, 20), "admin.usual", "privilege_change", service="admin",
                  ip=home["admin.usual"], device="laptop-admin.usual", target="someone",
                  command="add group 'sales'"))  # fmt: skip
    # ... and sudo in an SSH session opened from a new device
    out.append(ev(at(12, 13), "ops.stranger", service="sshd", host="bastion-2",
                  ip=home["ops.stranger"], device="ssh-client-x"))  # fmt: skip
    out.append(ev(at(12, 13, 3), "ops.stranger", "sudo", service="sudo", host="bastion-2",
                  ip="", device="", target="root", command="/bin/bash"))  # fmt: skip
    return out
