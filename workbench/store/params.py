"""Turning Python values into ClickHouse server-side query parameters.

Both backends bind values the same way the ClickHouse HTTP interface does (``param_<name>``
in escaped text format), using clickhouse-connect's own formatter, so a value reaches the
engine intact whatever it contains. No value is ever formatted into SQL text.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
from clickhouse_connect.driver.binding import format_bind_value

from workbench.errors import InvalidIdentifier
from workbench.store.identifiers import check_identifier

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*):([^{}]+)\}")


def normalize_value(value: Any) -> Any:
    """Return ``value`` in a form that binds identically on both backends.

    Datetimes become ``YYYY-MM-DD HH:MM:SS.mmm`` strings in UTC (naive values are taken as
    UTC), numpy scalars become Python scalars; everything else is returned unchanged.

    Parameters
    ----------
    value : Any
        A parameter value.

    Returns
    -------
    Any
        The normalized value.
    """
    if isinstance(value, np.datetime64):
        value = value.astype("datetime64[ms]").item()
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return type(value)(normalize_value(v) for v in value)
    return value


def normalize_parameters(parameters: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check parameter names and normalize their values.

    Parameters
    ----------
    parameters : mapping or None
        Parameter names to values.

    Returns
    -------
    dict
        A new dict of normalized values.

    Raises
    ------
    InvalidIdentifier
        When a parameter name is not a plain identifier.
    """
    out: dict[str, Any] = {}
    for name, value in (parameters or {}).items():
        if "." in name:
            raise InvalidIdentifier(f"parameter name {name!r} must not contain a dot")
        out[check_identifier(name)] = normalize_value(value)
    return out


def to_wire(parameters: Mapping[str, Any]) -> dict[str, str]:
    """Format normalized parameters as the escaped text the HTTP interface expects.

    Parameters
    ----------
    parameters : mapping
        Normalized parameters (see :func:`normalize_parameters`).

    Returns
    -------
    dict of str
        Parameter name to its escaped text form.
    """
    return {k: format_bind_value(v, dt.UTC, True) for k, v in parameters.items()}


def placeholders(sql: str) -> dict[str, str]:
    """Return the ``{name:Type}`` placeholders of a query, name to type, in order.

    Parameters
    ----------
    sql : str
        Query text.

    Returns
    -------
    dict
        Placeholder names mapped to their declared ClickHouse types.
    """
    found: dict[str, str] = {}
    for name, ch_type in PLACEHOLDER.findall(sql):
        found.setdefault(name, ch_type.strip())
    return found


def settings_clause(settings: Mapping[str, Any] | None) -> str:
    """Render query-level settings as a ``SETTINGS`` clause (empty when there are none).

    Setting names pass the identifier check; values must be numbers, booleans or strings
    and are rendered as SQL literals by clickhouse-connect's formatter.

    Parameters
    ----------
    settings : mapping or None
        ClickHouse settings.

    Returns
    -------
    str
        ``" SETTINGS a = 1, b = 'x'"`` or ``""``.
    """
    if not settings:
        return ""
    parts = []
    for name, value in settings.items():
        check_identifier(name)
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, int | float | str):
            raise InvalidIdentifier(f"setting {name} has an unsupported value type")
        parts.append(f"{name} = {format_bind_value(value, dt.UTC, False)}")
    return " SETTINGS " + ", ".join(parts)
