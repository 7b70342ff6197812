"""Keyed pseudonyms for IPs, e-mail addresses and account names, applied before rendering.

With ``--redact`` the executed notebook is rewritten before anything is rendered or saved:
every string in it (cell text, table HTML, plain text, plotly figure data, parameters and
metadata) has its IP addresses (v4 and v6), e-mail addresses and account names replaced by
stable pseudonyms such as ``ip-3fa2c1d9e0`` or ``user-91bd0e44aa``: an HMAC-SHA256 of the value
under the key in ``WB_REDACT_KEY``, so the same value gets the same pseudonym within a report
(and across reports made with the same key) and nobody without the key can reverse it.

IPs and e-mails are found by pattern. Account names are found from the values a notebook
notes as sensitive (:func:`workbench.reporting.note_sensitive`), from account-like parameters,
and from sshd / query-string patterns (``Invalid user NAME from``, ``for NAME from``,
``user=NAME``); every occurrence of a known account anywhere in the report is then replaced.
Images (PNG, JPEG ...) cannot be inspected and are removed from a redacted report. Dotted
version numbers that are also valid IPv4 addresses (``Chrome/120.0.0.0``) are replaced too:
redaction prefers hiding too much to leaking.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import ipaddress
import os
import re
from collections.abc import Iterable
from typing import Any

from workbench.errors import ConfigError

#: Environment variable holding the redaction key.
KEY_ENV = "WB_REDACT_KEY"
MIN_KEY_CHARS = 16
_DIGEST_CHARS = 10
_IPV4 = re.compile(
    r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
    r"(?!\.?\d)"
)
_IPV6 = re.compile(r"(?<![0-9A-Za-z:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f.]*")
_EMAIL = re.compile(
    r"(?<![\w.+%-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*"
    r"\.[A-Za-z]{2,24}(?![\w-])"
)
_ACCOUNT_PATTERNS = (
    re.compile(r"\b(?:[Ii]nvalid user|for(?: invalid user)?)\s+([\w.@-]{1,64})\s+from\b"),
    re.compile(r"(?i)\b(?:user(?:name)?|login|account|acct)=([^\s&;,\"'<>=]{1,64})"),
)
_BINARY_MIMETYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf")
_MIN_ACCOUNT_CHARS = 3


class Redactor:
    """Replaces IPs, e-mail addresses and known account names by keyed pseudonyms.

    Parameters
    ----------
    key : str or bytes
        The HMAC key (at least 16 characters).
    accounts : iterable of str, optional
        Account names to replace wherever they appear (3 characters or more; shorter names
        would replace ordinary words).

    Raises
    ------
    ConfigError
        When the key is too short.
    """

    def __init__(self, key: str | bytes, accounts: Iterable[str] = ()) -> None:
        raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
        if len(raw) < MIN_KEY_CHARS:
            raise ConfigError(
                f"{KEY_ENV} must be at least {MIN_KEY_CHARS} characters (a random secret)"
            )
        self._key = raw
        self._accounts: set[str] = set()
        self._account_re: re.Pattern[str] | None = None
        self._by_pseudonym: dict[str, str] = {}
        self._by_value: dict[tuple[str, str], str] = {}
        self.add_accounts(accounts)

    @classmethod
    def from_env(cls, accounts: Iterable[str] = ()) -> Redactor:
        """Build a redactor with the key in ``WB_REDACT_KEY``.

        Parameters
        ----------
        accounts : iterable of str, optional
            Account names to replace.

        Returns
        -------
        Redactor
            The redactor.

        Raises
        ------
        ConfigError
            When ``WB_REDACT_KEY`` is unset or shorter than 16 characters.
        """
        key = os.environ.get(KEY_ENV, "")
        if not key:
            raise ConfigError(
                f"--redact needs a secret key in {KEY_ENV} (16 characters or more, for example "
                f"`export {KEY_ENV}=$(python -c 'import secrets; print(secrets.token_hex(16))')`)"
            )
        return cls(key, accounts)

    # -- what to replace --------------------------------------------------------------------
    def add_accounts(self, names: Iterable[str]) -> int:
        """Add account names to replace.

        Parameters
        ----------
        names : iterable of str
            Names; those shorter than 3 characters are skipped.

        Returns
        -------
        int
            How many new names were added.
        """
        new = {
            str(n).strip().lower()
            for n in names
            if n is not None and len(str(n).strip()) >= _MIN_ACCOUNT_CHARS
        } - self._accounts
        if new:
            self._accounts |= new
            alternatives = "|".join(
                re.escape(n) for n in sorted(self._accounts, key=len, reverse=True)
            )
            self._account_re = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)
        return len(new)

    @property
    def accounts(self) -> frozenset[str]:
        """Account names (lower case) this redactor replaces."""
        return frozenset(self._accounts)

    def learn(self, text: str) -> int:
        """Find account names in ``text`` by pattern (sshd lines, ``user=`` fields) and add them.

        Parameters
        ----------
        text : str
            Any text.

        Returns
        -------
        int
            How many new names were found.
        """
        found = [m.group(1) for p in _ACCOUNT_PATTERNS for m in p.finditer(text)]
        return self.add_accounts(n for n in found if not _is_ip(n) and "@" not in n)

    # -- pseudonyms -------------------------------------------------------------------------
    def pseudonym(self, value: str, kind: str) -> str:
        """Return the pseudonym of one value.

        Parameters
        ----------
        value : str
            An IP address, e-mail address or account name.
        kind : {"ip", "email", "account"}
            What it is.

        Returns
        -------
        str
            ``ip-<hex>``, ``user-<hex>@redacted.invalid`` or ``user-<hex>``.
        """
        if kind == "ip":
            normal = _normal_ip(value)
            prefix, suffix = "ip-", ""
        elif kind == "email":
            normal, prefix, suffix = value.lower(), "user-", "@redacted.invalid"
        elif kind == "account":
            normal, prefix, suffix = value.lower(), "user-", ""
        else:
            raise ValueError(f"unknown kind {kind!r}")
        cached = self._by_value.get((kind, normal))
        if cached:
            return cached
        digest = hmac.new(self._key, f"{kind}:{normal}".encode(), hashlib.sha256).hexdigest()
        size = _DIGEST_CHARS
        while True:  # 40 bits make a clash unlikely; if one happens, lengthen this pseudonym
            name = f"{prefix}{digest[:size]}{suffix}"
            owner = self._by_pseudonym.setdefault(name, f"{kind}:{normal}")
            if owner == f"{kind}:{normal}":
                break
            size += 2
        self._by_value[(kind, normal)] = name
        return name

    @property
    def replaced(self) -> int:
        """How many distinct values have been given pseudonyms so far."""
        return len(self._by_value)

    # -- applying ---------------------------------------------------------------------------
    def _spans(self, text: str) -> list[tuple[int, int, str]]:
        spans: list[tuple[int, int, str]] = []
        for m in _EMAIL.finditer(text):
            spans.append((m.start(), m.end(), self.pseudonym(m.group(0), "email")))
        if self._account_re is not None:
            for m in self._account_re.finditer(text):
                spans.append((m.start(), m.end(), self.pseudonym(m.group(0), "account")))
        for m in _IPV6.finditer(text):
            found = _ipv6_in(m.group(0))
            if found:
                spans.append((m.start(), m.start() + len(found), self.pseudonym(found, "ip")))
        for m in _IPV4.finditer(text):
            spans.append((m.start(), m.end(), self.pseudonym(m.group(0), "ip")))
        return spans

    def text(self, text: str) -> str:
        """Return ``text`` with every IP, e-mail and known account replaced (one pass).

        Parameters
        ----------
        text : str
            Any text (HTML, JSON, plain).

        Returns
        -------
        str
            The redacted text.
        """
        spans = self._spans(text)
        if not spans:
            return text
        spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
        out, cursor = [], 0
        for start, end, replacement in spans:
            if start < cursor:
                continue  # overlaps a longer match already replaced (an IP inside an e-mail)
            out.append(text[cursor:start])
            out.append(replacement)
            cursor = end
        out.append(text[cursor:])
        return "".join(out)

    def value(self, value: Any) -> Any:
        """Redact every string inside ``value`` (dicts, keys included, lists, tuples).

        Parameters
        ----------
        value : Any
            Nested data (a plotly figure's JSON, a parameters dict ...).

        Returns
        -------
        Any
            A redacted copy (non-string leaves unchanged).
        """
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            if _is_typed_array(value):  # plotly's base64 numbers: no text, must stay intact
                return value
            return type(value)((self.value(k), self.value(v)) for k, v in value.items())
        if isinstance(value, list | tuple):
            return type(value)(self.value(v) for v in value)
        return value

    def learn_all(self, value: Any) -> int:
        """Run :meth:`learn` on every string inside ``value``.

        Parameters
        ----------
        value : Any
            Nested data.

        Returns
        -------
        int
            How many new account names were found.
        """
        if isinstance(value, str):
            return self.learn(value)
        if isinstance(value, dict):
            if _is_typed_array(value):
                return 0
            return sum(self.learn_all(k) + self.learn_all(v) for k, v in value.items())
        if isinstance(value, list | tuple):
            return sum(self.learn_all(v) for v in value)
        return 0


def _is_typed_array(value: dict) -> bool:
    """Say whether ``value`` is plotly's binary array ``{"dtype", "bdata"}`` (numbers, no text)."""
    return set(value) <= {"dtype", "bdata", "shape"} and "bdata" in value and "dtype" in value


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _normal_ip(text: str) -> str:
    address = ipaddress.ip_address(text)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.compressed


def _ipv6_in(candidate: str) -> str | None:
    """Return the IPv6 address ``candidate`` starts with, or None (times, MACs, ``x[::2]``)."""
    for text in (candidate, candidate.rstrip(":."), candidate.rstrip(".")):
        try:
            address = ipaddress.IPv6Address(text)
        except ValueError:
            continue
        groups = [g for g in text.split(":") if g]
        return text if len(groups) >= 2 or address.ipv4_mapped is not None else None
    return None


def redact_notebook(nb: Any, redactor: Redactor) -> tuple[Any, list[str]]:
    """Return a redacted copy of an executed notebook and warnings about what was removed.

    Every string in the notebook is redacted: cell sources, outputs of every mimetype
    (``text/html``, ``text/plain``, ``application/vnd.plotly.v1+json`` ...), tracebacks and
    metadata (papermill's parameters included). Account names found anywhere by pattern
    are learnt first, so each is replaced everywhere. Binary images are removed.

    Parameters
    ----------
    nb : nbformat.NotebookNode or dict
        The executed notebook (not modified).
    redactor : Redactor
        The redactor (its learnt accounts grow).

    Returns
    -------
    tuple of (notebook, list of str)
        The redacted copy and human-readable warnings.
    """
    out = copy.deepcopy(nb)
    removed = 0
    for cell in out.get("cells", []):
        for output in cell.get("outputs", []) or []:
            data = output.get("data")
            if not isinstance(data, dict):
                continue
            for mimetype in [m for m in data if m in _BINARY_MIMETYPES]:
                del data[mimetype]
                removed += 1
                data.setdefault("text/plain", "[image removed: redaction cannot inspect images]")
    redactor.learn_all(out)
    redacted = redactor.value(out)
    warnings = []
    if removed:
        warnings.append(f"redaction removed {removed} image(s) it cannot inspect")
    return redacted, warnings
