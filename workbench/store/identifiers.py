"""Strict checks for identifiers (table and column names) that must appear in SQL text.

Values are always bound as server-side parameters; identifiers cannot be, so every name
that reaches SQL text passes :func:`check_identifier` first.
"""

from __future__ import annotations

import re

from workbench.errors import InvalidIdentifier

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


def check_identifier(name: str) -> str:
    """Return ``name`` unchanged if it is a plain identifier, else raise.

    A plain identifier is a letter or underscore followed by up to 127 letters, digits or
    underscores. A dotted ``database.table`` name is accepted when both halves pass.

    Parameters
    ----------
    name : str
        Table or column name.

    Returns
    -------
    str
        The same name.

    Raises
    ------
    InvalidIdentifier
        When the name contains anything else (quotes, spaces, dots beyond one, control bytes).
    """
    if not isinstance(name, str):
        raise InvalidIdentifier(f"identifier must be a string, got {type(name).__name__}")
    parts = name.split(".")
    if len(parts) > 2 or not all(_IDENTIFIER.fullmatch(p) for p in parts):
        raise InvalidIdentifier(
            f"{name[:80]!r} is not a valid table or column name "
            "(letters, digits and underscores only, not starting with a digit)"
        )
    return name
