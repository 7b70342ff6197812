"""Synthetic account identities: e-mail addresses, passwords, cookies and API keys.

Everything is derived from 64-bit tokens, so a person keeps the same login and cookie across
sessions while credential-stuffing lists supply endless fresh combinations.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from workbench.synth.arrays import digits, hex64, join, mix64, take, where

_FIRST = ("james", "mary", "john", "patricia", "robert", "jennifer", "michael", "linda",
          "david", "elizabeth", "william", "barbara", "richard", "susan", "joseph", "jessica",
          "thomas", "sarah", "carlos", "ana", "lukas", "emma", "hiroshi", "yuki", "priya",
          "arjun", "lucas", "julia", "mohamed", "fatima", "noah", "olivia", "liam", "sofia",
          "mateo", "chloe", "ali", "mia", "ivan", "elena")  # fmt: skip
_LAST = ("smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis",
         "rodriguez", "martinez", "hernandez", "lopez", "wilson", "anderson", "thomas",
         "taylor", "moore", "martin", "lee", "thompson", "white", "harris", "clark", "lewis",
         "muller", "schmidt", "dubois", "silva", "santos", "sato", "suzuki", "kumar", "sharma",
         "nguyen", "tran", "rossi", "novak", "kowalski", "ivanov", "cohen")  # fmt: skip
_DOMAINS = ("gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com", "aol.com",
            "web.de", "orange.fr", "yahoo.co.jp", "gmx.net", "proton.me", "mail.ru")  # fmt: skip
_SEPS = (".", "_", "", "-")
# frequent leaked passwords, then generated ones (word + digits + symbol)
_COMMON = ("123456", "password", "123456789", "qwerty", "12345678", "111111", "1234567890",
           "abc123", "password1", "iloveyou", "1q2w3e4r", "000000", "qwerty123", "zaq12wsx",
           "dragon", "sunshine", "princess", "letmein", "654321", "monkey", "football",
           "welcome1", "Passw0rd!", "charlie", "baseball", "shadow", "superman", "trustno1")  # fmt: skip
_SYMBOLS = ("", "", "!", "@", "#", "$", "!!", "*")


def emails(tokens: np.ndarray) -> pa.Array:
    """E-mail addresses derived from tokens (the same token always gives the same address).

    Parameters
    ----------
    tokens : numpy.ndarray
        64-bit tokens.

    Returns
    -------
    pyarrow.StringArray
        Addresses such as ``maria.silva84@gmail.com``.
    """
    h = mix64(tokens, 0xE3A1).astype(np.uint64)
    part = lambda shift, size: ((h >> np.uint64(shift)) % np.uint64(size)).astype(np.int64)  # noqa: E731
    number = part(40, 400)
    suffix = where(number < 100, digits(number), take(("",), np.zeros(len(number), np.int64)))
    return join(
        take(_FIRST, part(0, len(_FIRST))), take(_SEPS, part(8, len(_SEPS))),
        take(_LAST, part(16, len(_LAST))), suffix, "@",
        take(_DOMAINS, part(24, len(_DOMAINS))),
    )  # fmt: skip


def passwords(tokens: np.ndarray) -> pa.Array:
    """Passwords derived from tokens: a third from a common list, the rest word+digits+symbol.

    Parameters
    ----------
    tokens : numpy.ndarray
        64-bit tokens.

    Returns
    -------
    pyarrow.StringArray
        Passwords.
    """
    h = mix64(tokens, 0x9A55).astype(np.uint64)
    part = lambda shift, size: ((h >> np.uint64(shift)) % np.uint64(size)).astype(np.int64)  # noqa: E731
    common = take(_COMMON, part(0, len(_COMMON)))
    words = _FIRST + _LAST + ("summer", "winter", "hello", "soccer", "master", "love")
    made = join(take(words, part(8, len(words))), digits(part(20, 10_000)),
                take(_SYMBOLS, part(36, len(_SYMBOLS))))  # fmt: skip
    return where(part(50, 3) == 0, common, made)


def session_cookies(tokens: np.ndarray) -> pa.Array:
    """Cookie headers of browsers identified by ``tokens`` (stable per browser).

    Parameters
    ----------
    tokens : numpy.ndarray
        64-bit per-browser tokens.

    Returns
    -------
    pyarrow.StringArray
        ``sid=...; _ga=GA1.1....`` cookie strings.
    """
    h = mix64(tokens, 0xC00C).astype(np.uint64)
    ga = ((h >> np.uint64(20)) % np.uint64(99_999)).astype(np.int64)
    return join("sid=", hex64(h), "; _ga=GA1.1.", digits(ga), ".17", digits(ga % 99_999))


def api_keys(tokens: np.ndarray) -> pa.Array:
    """``Bearer`` credentials of API clients identified by ``tokens``.

    Parameters
    ----------
    tokens : numpy.ndarray
        64-bit per-client tokens.

    Returns
    -------
    pyarrow.StringArray
        ``Bearer sk_live_...`` strings.
    """
    h = mix64(tokens, 0xA91).astype(np.uint64)
    return join("Bearer sk_live_", hex64(h), hex64(mix64(h, 7)))
