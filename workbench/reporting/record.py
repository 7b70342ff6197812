"""What a report notebook tells its runner: headline numbers, model version, sensitive values.

The notebook runs in a kernel, another process. The runner names a side file in the kernel's
``WB_REPORT_RECORD`` environment variable; these functions merge what they are given into
that JSON file, and the runner reads it when the notebook is done. Outside a report run
(an analyst's own notebook) they only check and return their input.

::

    from workbench.reporting import record
    record(requests=120_345, likely_automated_share=0.31)
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from workbench.errors import InputError
from workbench.reporting.locks import atomic_write

#: Environment variable naming the side file of the current report run.
RECORD_ENV = "WB_REPORT_RECORD"
SENSITIVE_KINDS = ("account", "ip", "email")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_MAX_TEXT = 300


def _scalar(name: str, value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int | str):
        return value[:_MAX_TEXT] if isinstance(value, str) else value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dt.datetime):
        value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        return _scalar(name, value.to_pydatetime())
    raise InputError(
        f"headline value {name!r} must be a number, text, bool or time, got {type(value).__name__}"
    )


def _side_file() -> Path | None:
    path = os.environ.get(RECORD_ENV)
    return Path(path) if path else None


def read_record(path: str | Path) -> dict[str, Any]:
    """Read a run's side file.

    Parameters
    ----------
    path : str or Path
        The file the kernel wrote (missing means nothing was recorded).

    Returns
    -------
    dict
        ``{"headline": {...}, "context": {...}, "sensitive": {kind: [values]}}``.
    """
    empty: dict[str, Any] = {"headline": {}, "context": {}, "sensitive": {}}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return empty
    except (OSError, ValueError) as exc:
        raise InputError(f"report record {path} is unreadable: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"report record {path} is not a JSON object")
    return {key: dict(data.get(key) or {}) for key in empty}


def _merge(section: str, values: Mapping[str, Any]) -> None:
    path = _side_file()
    if path is None:
        return
    data = read_record(path)
    if section == "sensitive":
        for kind, items in values.items():
            known = data["sensitive"].setdefault(kind, [])
            seen = set(known)
            for value in items:
                if value not in seen:
                    known.append(value)
                    seen.add(value)
    else:
        data[section].update(values)
    atomic_write(path, json.dumps(data, indent=1, sort_keys=True))


def record(**values: Any) -> dict[str, Any]:
    """Record headline numbers of the report being run; the index and header show them.

    Parameters
    ----------
    **values
        Names (identifiers) to numbers, short text, bools or times.

    Returns
    -------
    dict
        The values as recorded (numpy scalars as Python numbers, times as ISO 8601 UTC).

    Raises
    ------
    InputError
        When a name is not an identifier or a value is not a scalar.
    """
    clean: dict[str, Any] = {}
    for name, value in values.items():
        if not _NAME.fullmatch(name):
            raise InputError(f"headline name {name!r} must be an identifier")
        clean[name] = _scalar(name, value)
    _merge("headline", clean)
    return clean


def record_context(
    *,
    model_version: str | None = None,
    data_first: Any = None,
    data_last: Any = None,
) -> dict[str, Any]:
    """Record facts about the run for its header: the model used, the data actually seen.

    Parameters
    ----------
    model_version : str, optional
        Name and version (or content hash) of the model the report used.
    data_first, data_last : datetime or str, optional
        Timestamps of the first and last rows the report read.

    Returns
    -------
    dict
        What was recorded (only the arguments given).
    """
    given = {"model_version": model_version, "data_first": data_first, "data_last": data_last}
    clean = {k: _scalar(k, v) for k, v in given.items() if v is not None}
    _merge("context", clean)
    return clean


def note_sensitive(values: Iterable[Any], kind: str = "account") -> int:
    """Tell the runner which shown values identify people, so ``--redact`` replaces them.

    IP and e-mail addresses are found by pattern anyway; account names cannot be, so a
    notebook (or the section function it calls) that shows a ``User`` column notes them here.

    Parameters
    ----------
    values : iterable
        The values (empty strings and missing values are ignored).
    kind : {"account", "ip", "email"}
        What they are; decides the pseudonym's prefix.

    Returns
    -------
    int
        How many distinct values were noted.

    Raises
    ------
    InputError
        When ``kind`` is unknown.
    """
    if kind not in SENSITIVE_KINDS:
        raise InputError(
            f"sensitive kind must be one of {', '.join(SENSITIVE_KINDS)}, got {kind!r}"
        )
    distinct = sorted({str(v) for v in values if v is not None and str(v) not in ("", "nan")})
    if distinct:
        _merge("sensitive", {kind: distinct})
    return len(distinct)
