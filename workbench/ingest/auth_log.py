"""Linux auth logs (``/var/log/auth.log``, ``secure``) into ``auth_events``.

Both syslog headers are read: the traditional ``Mar 27 13:06:56 host tag[pid]: message``
(no year: it comes from ``year``, and a jump back of more than six months, December to
January, moves to the next year) and RFC 3339 ``2024-03-27T13:06:56.123+00:00 host tag:``.
Times without a zone are taken as UTC.

Every syslog line is loaded, nothing valid is lost: lines we understand get an ``EventType``
and their fields, any other syslog line (CRON, systemd, useradd ...) is loaded as
``EventType='other'`` with its ``Service`` and the ``Raw`` line. Only lines that are not syslog
at all (no timestamp and host) are rejected.

Event types:

- ``login_success``: sshd ``Accepted <method> for U from IP port P``
- ``login_failure``: sshd ``Failed <method> for [invalid user] U from IP port P``
- ``invalid_user``: sshd ``Invalid user U from IP [port P]``
- ``sudo``: ``sudo: U : [error ;] TTY=.. ; PWD=.. ; USER=T ; COMMAND=..`` (``Success=0``
  when sudo logged an error such as ``3 incorrect password attempts``)
- ``session_open`` / ``session_close``: ``pam_unix(svc:session): session opened|closed``
- ``disconnect``: sshd ``Received disconnect``, ``Disconnected from``, ``Connection closed
  by``, ``Connection reset by``, ``Disconnecting:``
- ``other``: everything else; sshd ``input_userauth_request: invalid user``, ``maximum
  authentication attempts exceeded`` and PAM ``authentication failure`` lines, which repeat
  an event logged on another line, are ``other`` (with user and address filled) so that
  counts of failures are not doubled.

``message repeated N times: [ msg ]`` is parsed as ``msg``: one row, with ``Repeats = N`` (clamped
to 1 ... 2**32 - 1; every other line has ``Repeats = 1``), so that counts of events weight rows
by ``Repeats`` (``sum(Repeats)``), and ``Raw`` keeps the line as written.
``UserValid`` is 1 only where the line shows that the account exists. User names are matched
greedily so that a name containing `` from 1.2.3.4 port 22`` cannot spoof the address.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from workbench.ingest.common import (
    MAX_MS,
    MIN_MS,
    TIMESTAMP,
    Record,
    Reject,
    parse_timestamp,
    record_ids,
    reject,
)

TABLE = "auth_events"
#: Longer messages are loaded as ``other`` without trying the message patterns.
MAX_CLASSIFIED = 8192
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
_BSD = re.compile(
    r"(?P<mon>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +(?P<day>\d{1,2}) "
    r"(?P<hms>\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d{1,9}))? (?P<host>\S+) ?(?P<rest>.*)",
    re.S,
)
_ISO = re.compile(
    r"(?P<ts>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?) "
    r"(?P<host>\S+) ?(?P<rest>.*)",
    re.S,
)
_TAG = re.compile(r"(?P<tag>[^\s\[\]:]+)(?:\[(?P<pid>\d+)\])?: ?(?P<msg>.*)", re.S)
_REPEATED = re.compile(r"message repeated (?P<n>\d+) times: \[ ?(?P<msg>.*?) ?\]", re.S)
#: Largest ``Repeats`` (``UInt32``).
MAX_REPEATS = 2**32 - 1
_IP_PORT = r"(?P<ip>\S+) port (?P<port>\d{1,5})"

# sshd messages: (pattern, event type, success, user-valid rule)
_SSHD = [
    (re.compile(rf"Accepted (?P<method>\S+) for (?P<user>.*) from {_IP_PORT}(?: ssh2)?(?:: .*)?",
                re.S), "login_success"),
    (re.compile(rf"Failed (?P<method>\S+) for (?P<invalid>invalid user )?(?P<user>.*) from "
                rf"{_IP_PORT}(?: ssh2)?(?:: .*)?(?: \[preauth\])?", re.S), "login_failure"),
    (re.compile(r"Invalid user (?P<user>.*) from (?P<ip>\S+)(?: port (?P<port>\d{1,5}))?"
                r"(?: \[preauth\])?", re.S), "invalid_user"),
    (re.compile(r"Received disconnect from (?P<ip>[^\s:]+|\[[^\]]*\])(?: port (?P<port>\d{1,5}))?:"
                r".*", re.S), "disconnect"),
    (re.compile(r"(?:Disconnected from|Connection (?:closed|reset) by) "
                r"(?:(?P<invalid>invalid user )|(?:authenticating )?user )?(?:(?P<user>.*) )?"
                rf"{_IP_PORT}(?: \[preauth\])?", re.S), "disconnect"),
    (re.compile(r"(?:Disconnected from|Connection (?:closed|reset) by) (?P<ip>\S+)"
                r"(?: \[preauth\])?", re.S), "disconnect"),
    (re.compile(r"Disconnecting:? .*", re.S), "disconnect"),
    (re.compile(r"input_userauth_request: (?P<invalid>invalid user )(?P<user>.*?)(?: \[preauth\])?",
                re.S), "other"),
    (re.compile(r"error: maximum authentication attempts exceeded for (?P<invalid>invalid user )?"
                rf"(?P<user>.*) from {_IP_PORT}(?: ssh2)?(?: \[preauth\])?", re.S), "other"),
    (re.compile(r"(?:Did not receive identification string|Bad protocol version identification"
                r" .*) from (?P<ip>\S+)(?: port (?P<port>\d{1,5}))?", re.S), "other"),
    (re.compile(rf"Connection from {_IP_PORT} on \S+ port \d+(?: .*)?", re.S), "other"),
    (re.compile(rf"Starting session: .* for (?P<user>.*) from {_IP_PORT}(?: id \d+)?", re.S),
     "other"),
]  # fmt: skip
_SESSION = re.compile(
    r"pam_unix\((?P<svc>[^:)]*):session\): session (?P<what>opened|closed) for user "
    r"(?P<target>.*?)(?:\(uid=\d+\))?(?: by (?P<by>.*?)(?:\(uid=\d+\))?)?",
    re.S,
)
_PAM_FAILURE = re.compile(r"(?:pam_unix\([^)]*\): authentication failure|PAM \d+ more "
                          r"authentication failures?); (?P<kv>.*)", re.S)  # fmt: skip
_KV = re.compile(r"(\w+)=(\S*)")
_SUDO = re.compile(r"\s*(?P<user>\S+) : (?P<rest>.*)", re.S)

COLUMNS = (
    "EventID", "EventTime", "Host", "Service", "EventType", "User", "UserValid", "Success",
    "AuthMethod", "SourceIP", "SourcePort", "TargetUser", "Command", "Raw", "Repeats",
)  # fmt: skip
_SCHEMA = pa.schema(
    [
        ("EventID", pa.string()), ("EventTime", TIMESTAMP), ("Host", pa.string()),
        ("Service", pa.string()), ("EventType", pa.string()), ("User", pa.string()),
        ("UserValid", pa.uint8()), ("Success", pa.uint8()), ("AuthMethod", pa.string()),
        ("SourceIP", pa.string()), ("SourcePort", pa.uint16()), ("TargetUser", pa.string()),
        ("Command", pa.string()), ("Raw", pa.string()), ("Repeats", pa.uint32()),
    ]
)  # fmt: skip


class SyslogClock:
    """Turns year-less syslog dates into timestamps, following the year across a file.

    Parameters
    ----------
    year : int
        Year of the first line.
    """

    def __init__(self, year: int) -> None:
        if not 1900 <= year <= 2299:
            raise ValueError(f"year {year} is outside 1900-2299")
        self.year = year
        self._month: int | None = None

    def timestamp(self, month: int, day: int, hms: str, frac: str | None) -> int:
        """Return epoch milliseconds for a date without a year.

        Parameters
        ----------
        month, day : int
            From the line.
        hms : str
            ``HH:MM:SS``.
        frac : str or None
            Fraction of a second, if written.

        Returns
        -------
        int
            Milliseconds since the epoch (UTC).

        Raises
        ------
        ValueError
            When the date does not exist (``Feb 30``, ``25:00:00``).
        """
        if self._month is not None and month < self._month - 6:
            self.year += 1
        hour, minute, second = (int(x) for x in hms.split(":"))
        stamp = datetime(self.year, month, day, hour, minute, second, tzinfo=UTC)
        self._month = month
        return (stamp - _EPOCH) // _MS + (int((frac + "00")[:3]) if frac else 0)


def parse_auth_log(
    records: Iterable[Record],
    *,
    year: int | None = None,
    file_id: str = "",
    clock: SyslogClock | None = None,
) -> tuple[pa.Table, list[Reject]]:
    """Parse auth-log (syslog) lines into ``auth_events`` rows.

    Parameters
    ----------
    records : iterable of (int, str)
        Line number and text (without terminator) of each non-blank line.
    year : int, optional
        Year of the first year-less line; default the current year (UTC).
    file_id : str, optional
        Content hash of the file, for the deterministic ``EventID`` of each row.
    clock : SyslogClock, optional
        Carries the year from one chunk of a file to the next; overrides ``year``.

    Returns
    -------
    rows : pyarrow.Table
        One row per syslog line (columns of :data:`COLUMNS`).
    rejects : list of Reject
        Lines that are not syslog, or whose date does not exist.
    """
    if clock is None:
        clock = SyslogClock(year if year is not None else datetime.now(UTC).year)
    columns: dict[str, list] = {name: [] for name in COLUMNS}
    numbers: list[int] = []
    rejects: list[Reject] = []
    for number, text in records:
        event, problem = _parse_line(text, clock)
        if problem is not None:
            rejects.append(reject(number, problem, text))
            continue
        numbers.append(number)
        for name in COLUMNS[1:]:
            columns[name].append(event[name])
    columns["EventID"] = record_ids(file_id, numbers)
    return pa.table(columns, schema=_SCHEMA), rejects


def _blank_event(when: int, host: str, service: str, raw: str) -> dict:
    return {
        "EventTime": when, "Host": host, "Service": service, "EventType": "other", "User": "",
        "UserValid": 0, "Success": 0, "AuthMethod": "", "SourceIP": "", "SourcePort": 0,
        "TargetUser": "", "Command": "", "Raw": raw, "Repeats": 1,
    }  # fmt: skip


def _parse_line(text: str, clock: SyslogClock) -> tuple[dict, str | None]:
    match = _BSD.fullmatch(text)
    try:
        if match is not None:
            month = _MONTHS[match["mon"]]
            when = clock.timestamp(month, int(match["day"]), match["hms"], match["frac"])
        else:
            match = _ISO.fullmatch(text)
            if match is None:
                return {}, "not a syslog line (expected 'Mon dd HH:MM:SS host tag: message')"
            when = parse_timestamp(match["ts"])
    except ValueError as exc:
        return {}, f"invalid syslog date: {exc}"
    if not MIN_MS <= when <= MAX_MS:
        return {}, "invalid syslog date: outside 1900-2299"
    tagged = _TAG.fullmatch(match["rest"])
    service, message = (tagged["tag"], tagged["msg"]) if tagged else ("", match["rest"])
    event = _blank_event(when, match["host"], service, text)
    repeated = _REPEATED.fullmatch(message)
    if repeated is not None:
        message = repeated["msg"]
        event["Repeats"] = _repeats(repeated["n"])
    _classify(event, service, message)
    return event, None


def _repeats(digits: str) -> int:
    """Return the ``N`` of ``message repeated N times``, clamped to 1 ... :data:`MAX_REPEATS`."""
    digits = digits.lstrip("0")
    if len(digits) > len(str(MAX_REPEATS)):  # also keeps int() away from huge digit strings
        return MAX_REPEATS
    return max(1, min(int(digits or 0), MAX_REPEATS))


def _classify(event: dict, service: str, message: str) -> None:
    if len(message) > MAX_CLASSIFIED:
        return  # no sshd/sudo/PAM message is this long: keep it as "other", skip the regexes
    if service.startswith("sshd"):
        for pattern, event_type in _SSHD:
            found = pattern.fullmatch(message)
            if found is not None:
                _fill(event, found, event_type)
                return
    if service == "sudo" and _sudo(event, message):
        return
    session = _SESSION.fullmatch(message)
    if session is not None:
        target = session["target"]
        event["EventType"] = "session_open" if session["what"] == "opened" else "session_close"
        event["User"] = session["by"] or target
        event["TargetUser"] = target
        event["UserValid"] = event["Success"] = 1
        return
    failure = _PAM_FAILURE.fullmatch(message)
    if failure is not None:
        pairs = dict(_KV.findall(failure["kv"]))
        event["User"] = pairs.get("user", "")
        event["SourceIP"] = pairs.get("rhost", "")


def _fill(event: dict, found: re.Match, event_type: str) -> None:
    groups = found.groupdict()
    event["EventType"] = event_type
    event["User"] = groups.get("user") or ""
    event["SourceIP"] = (groups.get("ip") or "").strip("[]")
    port = int(groups.get("port") or 0)
    event["SourcePort"] = port if port <= 65535 else 0
    event["AuthMethod"] = groups.get("method") or ""
    event["Success"] = int(event_type == "login_success")
    invalid = event_type == "invalid_user" or bool(groups.get("invalid"))
    known = event_type in ("login_success", "login_failure") or (
        event_type == "disconnect" and bool(event["User"])
    )
    event["UserValid"] = int(known and not invalid)


def _sudo(event: dict, message: str) -> bool:
    found = _SUDO.fullmatch(message)
    if found is None or "COMMAND=" not in found["rest"]:
        return False
    head, _, command = found["rest"].partition("COMMAND=")
    pairs: dict[str, str] = {}
    error = ""
    for part in head.split(" ; "):
        key, eq, value = part.strip().partition("=")
        if eq and key.isupper():
            pairs[key] = value.strip()
        elif part.strip():
            error = part.strip()
    event.update(
        EventType="sudo",
        User=found["user"],
        TargetUser=pairs.get("USER", "root"),
        Command=command,
        UserValid=1,
        Success=int(not error),
    )
    return True
