"""Report parameters: ``-p key=value`` parsing, checks against a template, time windows.

A template declares its parameters as literal assignments in its one ``parameters`` cell; the
declared default's type decides how a command-line value is read (``limit=20`` is an int
because the default ``limit = 10`` is). Names that look like secrets are refused everywhere:
secrets come from the environment, never from parameters that are stored in run metadata.

Times are absolute (ISO 8601, UTC unless a zone is given) or relative to a reference time:
``now``, ``-24h``, ``now-90m``, ``-7d``, ``-2w``. The runner resolves ``start``/``end``
(and any ``*_start``/``*_end``) to absolute UTC before the notebook runs, so the report says
exactly which window it covers.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

from workbench.errors import InputError
from workbench.timespec import format_time, parse_time

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
#: Name parts that mark a secret: ``api_key``, ``db_password``, ``authToken`` ...
SECRET_PARTS = frozenset(
    {"password", "passwd", "pwd", "passphrase", "secret", "secrets", "token", "tokens",
     "key", "keys", "apikey", "credential", "credentials", "privatekey", "cookie"}
)  # fmt: skip
_SECRET_SUBSTRINGS = ("password", "passwd", "secret", "token", "apikey", "credential")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def _name_parts(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [p.lower() for p in re.split(r"[^A-Za-z]+|\s+", spaced) if p]


def is_secret_name(name: str) -> bool:
    """Say whether a parameter name looks like it holds a secret.

    Parameters
    ----------
    name : str
        A parameter name.

    Returns
    -------
    bool
        True for names such as ``password``, ``api_key``, ``authToken``, ``db_passwd``,
        ``client_secret`` or ``key``; False for ``keyword`` or ``monkey``.
    """
    parts = _name_parts(name)
    if any(p in SECRET_PARTS for p in parts):
        return True
    joined = "".join(parts)
    return any(s in joined for s in _SECRET_SUBSTRINGS)


def check_parameter_name(name: str, where: str = "parameter") -> str:
    """Return ``name`` if it is a plain identifier that does not look like a secret.

    Parameters
    ----------
    name : str
        The name.
    where : str
        What it names, for the message.

    Returns
    -------
    str
        ``name``.

    Raises
    ------
    InputError
        When it is not an identifier, or looks like a secret.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InputError(f"{where} name {str(name)[:80]!r} is not a plain identifier")
    if is_secret_name(name):
        raise InputError(
            f"{where} {name!r} looks like a secret (password, secret, token, key): secrets are "
            "never report parameters, because parameters are written to the run metadata and "
            "the report; pass them in the environment instead"
        )
    return name


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """Parse ``key=value`` strings (``-p`` options) into a dict of raw text values.

    Parameters
    ----------
    items : iterable of str
        Assignments; the value may contain ``=`` and may be empty.

    Returns
    -------
    dict of str to str
        Name to raw text, in order; a repeated name keeps its last value.

    Raises
    ------
    InputError
        When an item has no ``=`` or a bad or secret-looking name.
    """
    out: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise InputError(f"parameter {item[:80]!r} must be written key=value")
        name, value = item.split("=", 1)
        out[check_parameter_name(name.strip())] = value
    return out


def template_parameters(source: str, template: str = "template") -> dict[str, Any]:
    """Read the defaults of a template's ``parameters`` cell.

    Parameters
    ----------
    source : str
        The cell's code: one literal assignment per parameter (comments allowed).
    template : str
        The template's name, for messages.

    Returns
    -------
    dict
        Parameter name to its default value, in order.

    Raises
    ------
    InputError
        When the cell has anything but ``name = <literal>`` statements, or a name that
        looks like a secret.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise InputError(f"{template}: parameters cell is not valid Python: {exc.msg}") from None
    defaults: dict[str, Any] = {}
    for node in tree.body:
        target = value = None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        if not isinstance(target, ast.Name) or value is None:
            raise InputError(
                f"{template}: line {node.lineno} of the parameters cell must be `name = literal`"
            )
        try:
            literal = ast.literal_eval(value)
        except ValueError:
            raise InputError(
                f"{template}: parameter {target.id!r} must have a literal default "
                "(a number, string, bool, None, list or dict of those)"
            ) from None
        defaults[check_parameter_name(target.id, f"{template}: parameter")] = literal
    return defaults


def _coerce(name: str, raw: Any, default: Any) -> Any:
    if isinstance(default, str) and isinstance(raw, int | float) and not isinstance(raw, bool):
        return str(raw)  # a schedule's `asn: 13335` for a text parameter
    if not isinstance(raw, str):
        value = raw
    elif isinstance(default, bool):
        low = raw.strip().lower()
        if low not in _TRUE | _FALSE:
            raise InputError(f"parameter {name!r} must be true or false, got {raw[:80]!r}")
        value = low in _TRUE
    elif isinstance(default, int):
        try:
            value = int(raw.strip())
        except ValueError:
            raise InputError(f"parameter {name!r} must be an integer, got {raw[:80]!r}") from None
    elif isinstance(default, float):
        try:
            value = float(raw.strip())
        except ValueError:
            raise InputError(f"parameter {name!r} must be a number, got {raw[:80]!r}") from None
    elif isinstance(default, list | dict):
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = None
        if not isinstance(value, type(default)):
            kind = type(default).__name__
            raise InputError(f"parameter {name!r} must be a {kind} literal, got {raw[:80]!r}")
    else:
        value = raw
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise InputError(f"parameter {name!r} must be true or false, got {value!r}")
    elif isinstance(default, int | float) and (
        isinstance(value, bool) or not isinstance(value, int | float)
    ):
        raise InputError(f"parameter {name!r} must be a number, got {value!r}")
    elif isinstance(default, int) and not isinstance(value, int):
        raise InputError(f"parameter {name!r} must be an integer, got {value!r}")
    if isinstance(default, str) and not isinstance(value, str):
        raise InputError(f"parameter {name!r} must be text, got {value!r}")
    return value


def check_parameters(
    given: Mapping[str, Any], defaults: Mapping[str, Any], template: str = "template"
) -> dict[str, Any]:
    """Check given values against a template's declared parameters and convert their types.

    Parameters
    ----------
    given : mapping
        Values to pass (raw text from the command line, or Python values).
    defaults : mapping
        The template's declared defaults (see :func:`template_parameters`).
    template : str
        The template's name, for messages.

    Returns
    -------
    dict
        The given values, converted to the types of their defaults.

    Raises
    ------
    InputError
        When a name is unknown to the template or looks like a secret, or a value does not
        fit its parameter's type.
    """
    out: dict[str, Any] = {}
    for name, raw in given.items():
        check_parameter_name(name)
        if name not in defaults:
            known = ", ".join(defaults) or "none"
            raise InputError(f"{template} has no parameter {name!r}; it takes: {known}")
        out[name] = _coerce(name, raw, defaults[name])
    return out


def is_time_parameter(name: str) -> bool:
    """Say whether a parameter holds a window bound (``start``, ``end``, ``*_start``, ``*_end``).

    Parameters
    ----------
    name : str
        Parameter name.

    Returns
    -------
    bool
        True for window bounds.
    """
    return name in ("start", "end") or name.endswith(("_start", "_end"))


def resolve_window(parameters: Mapping[str, Any], now: dt.datetime) -> dict[str, Any]:
    """Resolve every window-bound parameter to absolute ISO 8601 UTC text.

    Parameters
    ----------
    parameters : mapping
        Parameter values (other parameters are returned unchanged).
    now : datetime
        The reference time for relative values (a schedule's slot, or the current time).

    Returns
    -------
    dict
        The parameters with ``start``/``end`` style values absolute.

    Raises
    ------
    InputError
        When a bound is not a time, or ``start`` is not before ``end``.
    """
    out = dict(parameters)
    for name, value in parameters.items():
        if is_time_parameter(name) and isinstance(value, str | dt.datetime) and value != "":
            out[name] = format_time(parse_time(value, now, name))
    for prefix in {n[: -len("start")] for n in out if n.endswith("start")}:
        start, end = out.get(prefix + "start"), out.get(prefix + "end")
        if isinstance(start, str) and isinstance(end, str) and start and end:
            if parse_time(start, now) >= parse_time(end, now):
                raise InputError(
                    f"parameter {prefix}start ({start}) must be before {prefix}end ({end})"
                )
    return out
