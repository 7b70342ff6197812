"""Allowlist of known-benign patterns: which alerts triage suppresses, and by which rule.

A YAML file holds ``rules``; each rule has a ``name``, a ``reason`` written for the next
analyst, and what it matches:

``sources``
    addresses or CIDR networks (IPv4 or IPv6); every source address of the alert must be in
    one of them (an alert with no address never matches).
``users``
    account names or shell-style patterns (``svc-*``); every account of the alert must match.
``detectors``
    alert detectors the rule applies to (default: all).
``max_severity``
    the most severe alert it may suppress (default ``critical``: any).
``expires``
    a date; alerts from that day on are no longer suppressed by the rule.

A rule needs ``sources`` or ``users``: nothing is suppressed wholesale. Suppressed alerts stay
in the ``alerts`` table with ``Suppressed = 1`` and ``SuppressedBy`` set to the rule name, and
``wb alerts triage`` counts them per rule: suppression is never silent. See
``allowlist.example.yaml`` next to this module.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from workbench.detect.alerts import SEVERITIES, severity_rank
from workbench.errors import InputError

#: Alert detectors a rule may name.
ALERT_DETECTORS = (
    "brute_force", "password_spraying", "impossible_travel", "first_seen_country",
    "first_seen_asn", "first_seen_device", "off_hours", "dormant_account",
    "privilege_escalation", "peer_deviation", "user_day_model",
)  # fmt: skip
#: The example shipped with the package.
EXAMPLE = Path(__file__).with_name("allowlist.example.yaml")

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_KEYS = {"name", "reason", "sources", "users", "detectors", "max_severity", "expires"}
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class AllowRule:
    """One known-benign pattern.

    Attributes
    ----------
    name : str
        Rule name, written to ``SuppressedBy``.
    reason : str
        Why the pattern is benign.
    sources : tuple of ip_network
        Networks every source address must fall in (empty: any address).
    users : tuple of str
        Patterns every account must match (empty: any account).
    detectors : tuple of str
        Detectors the rule applies to (empty: all).
    max_severity : str
        Most severe alert it suppresses.
    expires : pandas.Timestamp or None
        Alerts at or after this time are not suppressed.
    """

    name: str
    reason: str
    sources: tuple[Network, ...] = ()
    users: tuple[str, ...] = ()
    detectors: tuple[str, ...] = ()
    max_severity: str = "critical"
    expires: pd.Timestamp | None = None

    def matches(
        self,
        detector: str,
        severity: str,
        time: pd.Timestamp,
        users: Sequence[str],
        source_ips: Sequence[str],
    ) -> bool:
        """Say whether an alert with these properties is covered by the rule.

        Parameters
        ----------
        detector, severity : str
            The alert's detector and severity.
        time : pandas.Timestamp
            The alert's time.
        users, source_ips : sequence of str
            Accounts and source addresses involved.

        Returns
        -------
        bool
            True when every condition of the rule holds.
        """
        if self.detectors and detector not in self.detectors:
            return False
        if severity_rank([severity])[0] > SEVERITIES.index(self.max_severity):
            return False
        if self.expires is not None and pd.Timestamp(time) >= self.expires:
            return False
        if self.sources and not (source_ips and all(self._in_sources(ip) for ip in source_ips)):
            return False
        if self.users and not (users and all(self._user_ok(u) for u in users)):
            return False
        return True

    def _in_sources(self, text: str) -> bool:
        try:
            address = ipaddress.ip_address(str(text))
        except ValueError:
            return False  # not an address (hostile or unparsed text): never allowlisted
        return any(address.version == net.version and address in net for net in self.sources)

    def _user_ok(self, user: str) -> bool:
        return any(fnmatch.fnmatchcase(str(user), pattern) for pattern in self.users)


class Allowlist:
    """An ordered list of :class:`AllowRule`; the first rule that matches suppresses.

    Parameters
    ----------
    rules : iterable of AllowRule
        The rules, in file order.
    source : str, default "<memory>"
        Where the rules came from, for messages.
    """

    def __init__(self, rules: Iterable[AllowRule] = (), source: str = "<memory>") -> None:
        self.rules = tuple(rules)
        self.source = source
        names = [r.name for r in self.rules]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InputError(f"{source}: rule names must be unique, repeated: {duplicates}")

    def __len__(self) -> int:
        return len(self.rules)

    def match(self, alert: Mapping[str, Any]) -> str:
        """Return the name of the first rule matching an alert row, or ``""``.

        Parameters
        ----------
        alert : mapping
            An alert row (``Detector``, ``Severity``, ``AlertTime``, ``Users``, ``SourceIPs``).

        Returns
        -------
        str
            The rule name, or an empty string when no rule matches.
        """
        for rule in self.rules:
            if rule.matches(
                alert["Detector"], alert["Severity"], alert["AlertTime"],
                list(alert["Users"]), list(alert["SourceIPs"]),
            ):  # fmt: skip
                return rule.name
        return ""


def _strings(where: str, key: str, value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise InputError(f"{where}: '{key}' must be a non-empty list of strings")
    bad = [v for v in value if not isinstance(v, str | int) or isinstance(v, bool)]
    if bad:
        raise InputError(f"{where}: '{key}' must hold strings, got {bad[0]!r}")
    return [str(v) for v in value]


def _rule(index: int, raw: Any, source: str) -> AllowRule:
    where = f"{source}: rule {index + 1}"
    if not isinstance(raw, dict):
        raise InputError(f"{where} must be a mapping with a name, got {type(raw).__name__}")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InputError(
            f"{where}: 'name' must be 1-64 letters, digits, '.', '_' or '-', got {name!r}"
        )
    where = f"{source}: rule {name!r}"
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise InputError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(_KEYS)}")
    reason = raw.get("reason", "")
    if not isinstance(reason, str):
        raise InputError(f"{where}: 'reason' must be text")
    sources = []
    for text in _strings(where, "sources", raw["sources"]) if "sources" in raw else []:
        try:
            sources.append(ipaddress.ip_network(text.strip(), strict=False))
        except ValueError:
            raise InputError(f"{where}: {text!r} is not an IP address or CIDR network") from None
    users = _strings(where, "users", raw["users"]) if "users" in raw else []
    if not sources and not users:
        raise InputError(f"{where}: give 'sources' or 'users' (a rule cannot match everything)")
    detectors = _strings(where, "detectors", raw["detectors"]) if "detectors" in raw else []
    unknown = [d for d in detectors if d not in ALERT_DETECTORS]
    if unknown:
        raise InputError(
            f"{where}: unknown detector(s) {unknown}; known: {', '.join(ALERT_DETECTORS)}"
        )
    severity = raw.get("max_severity", "critical")
    if severity not in SEVERITIES:
        raise InputError(f"{where}: max_severity must be one of {', '.join(SEVERITIES)}")
    expires = raw.get("expires")
    if expires is not None:
        if not isinstance(expires, date | datetime | str):
            raise InputError(f"{where}: 'expires' must be a date such as 2027-06-30")
        try:
            expires = pd.Timestamp(expires)
        except ValueError:
            raise InputError(f"{where}: 'expires' must be a date, got {expires!r}") from None
        expires = expires.tz_localize("UTC") if expires.tzinfo is None else expires
    return AllowRule(
        name, reason.strip(), tuple(sources), tuple(users), tuple(detectors), severity, expires
    )


def parse_allowlist(text: str, source: str = "<text>") -> Allowlist:
    """Parse allowlist YAML.

    Parameters
    ----------
    text : str
        The YAML document.
    source : str, default "<text>"
        Where it came from, for messages.

    Returns
    -------
    Allowlist
        The rules.

    Raises
    ------
    InputError
        For invalid YAML or a malformed rule (the message names the rule and the key).
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"{source}: not valid YAML{line}") from None
    if data is None:
        return Allowlist((), source)
    if not isinstance(data, dict) or set(data) - {"rules"}:
        raise InputError(f"{source}: expected a mapping with one key, 'rules'")
    rules = data.get("rules") or []
    if not isinstance(rules, list):
        raise InputError(f"{source}: 'rules' must be a list")
    return Allowlist([_rule(i, r, source) for i, r in enumerate(rules)], source)


def load_allowlist(path: str | Path) -> Allowlist:
    """Read an allowlist YAML file.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    Allowlist
        The rules.

    Raises
    ------
    InputError
        When the file is missing or malformed.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such allowlist file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the allowlist ({exc.__class__.__name__})") from None
    return parse_allowlist(text, str(path))
