"""ClickHouse column types as ingest sees them: parse ``DESCRIBE`` types, convert values.

Two conversion modes: ``strict`` for JSON (a number column takes a JSON number, a string
column a JSON string: anything else is a wrong type) and lenient for CSV text and Parquet
values (``"42"`` fills an integer column, ``'{"a": "b"}'`` a ``Map``). Missing values (``None``
and, when lenient, empty strings) become the column default, or NULL for ``Nullable``.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import math
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from workbench.errors import InputError
from workbench.ingest.common import MAX_MS, MIN_MS, TIMESTAMP, cut_text, parse_timestamp

_INTS = {f"{s}Int{b}": (s == "", b) for s in ("", "U") for b in (8, 16, 32, 64)}
_TRUE = {"1", "true", "t", "yes", "y"}
_FALSE = {"0", "false", "f", "no", "n"}
_TEXTUAL = {"String", "UUID", "IPv4", "IPv6"}


@dataclass(frozen=True)
class ColumnType:
    """A parsed ClickHouse column type.

    Attributes
    ----------
    text : str
        The type as ClickHouse writes it.
    kind : str
        One of ``string``, ``uuid``, ``ipv4``, ``ipv6``, ``int``, ``float``, ``bool``,
        ``date``, ``datetime``, ``map``, ``array``.
    nullable : bool
        ``Nullable(...)``: missing values stay NULL.
    signed : bool
        For integers.
    bits : int
        For integers and floats.
    item : ColumnType or None
        Element type of an ``Array``, value type of a ``Map`` (keys are strings).
    """

    text: str
    kind: str
    nullable: bool = False
    signed: bool = True
    bits: int = 64
    item: ColumnType | None = None


def _split_args(text: str) -> list[str]:
    parts, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(text):
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and ch == ",":
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def parse_type(text: str) -> ColumnType:
    """Parse a ClickHouse type name as ``DESCRIBE TABLE`` reports it.

    Parameters
    ----------
    text : str
        For example ``LowCardinality(String)``, ``DateTime64(3, 'UTC')``,
        ``Map(String, String)``, ``Nullable(UInt16)``.

    Returns
    -------
    ColumnType
        The parsed type.

    Raises
    ------
    InputError
        For types ingest cannot fill (Decimal, Enum, Tuple, non-string Map keys ...).
    """
    text = text.strip()
    name, _, rest = text.partition("(")
    args = _split_args(rest[:-1]) if rest.endswith(")") else []
    if name == "LowCardinality" and len(args) == 1:
        inner = parse_type(args[0])
        return ColumnType(text, inner.kind, inner.nullable, inner.signed, inner.bits, inner.item)
    if name == "Nullable" and len(args) == 1:
        inner = parse_type(args[0])
        return ColumnType(text, inner.kind, True, inner.signed, inner.bits, inner.item)
    if name in _INTS and not args:
        signed, bits = _INTS[name]
        return ColumnType(text, "int", signed=signed, bits=bits)
    if name in ("Float32", "Float64") and not args:
        return ColumnType(text, "float", bits=int(name[5:]))
    if name in _TEXTUAL or name == "FixedString":
        return ColumnType(text, "string" if name in ("String", "FixedString") else name.lower())
    if name == "Bool" and not args:
        return ColumnType(text, "bool")
    if name in ("Date", "Date32") and not args:
        return ColumnType(text, "date")
    if name in ("DateTime", "DateTime64"):
        return ColumnType(text, "datetime")
    if name == "Array" and len(args) == 1:
        return ColumnType(text, "array", item=parse_type(args[0]))
    if name == "Map" and len(args) == 2 and parse_type(args[0]).kind == "string":
        return ColumnType(text, "map", item=parse_type(args[1]))
    raise InputError(f"ingest cannot fill columns of type {text}")


def arrow_type(ct: ColumnType) -> pa.DataType:
    """Return the Arrow type used to insert values of ``ct``.

    Parameters
    ----------
    ct : ColumnType
        Column type.

    Returns
    -------
    pyarrow.DataType
        The matching Arrow type.
    """
    if ct.kind == "int":
        return getattr(pa, f"{'' if ct.signed else 'u'}int{ct.bits}")()
    if ct.kind == "float":
        return pa.float32() if ct.bits == 32 else pa.float64()
    if ct.kind == "bool":
        return pa.bool_()
    if ct.kind == "date":
        return pa.date32()
    if ct.kind == "datetime":
        return TIMESTAMP
    if ct.kind == "array":
        return pa.list_(arrow_type(ct.item))
    if ct.kind == "map":
        return pa.map_(pa.string(), arrow_type(ct.item))
    return pa.string()


def default(ct: ColumnType) -> Any:
    """Return the value a missing field takes (ClickHouse's own defaults).

    Parameters
    ----------
    ct : ColumnType
        Column type.

    Returns
    -------
    Any
        ``None`` for ``Nullable``; else ``""``, ``0``, ``False``, epoch, ``[]``.
    """
    if ct.nullable:
        return None
    return {
        "int": 0,
        "float": 0.0,
        "bool": False,
        "date": date(1970, 1, 1),
        "datetime": 0,
        "array": [],
        "map": [],
        "uuid": "00000000-0000-0000-0000-000000000000",
        "ipv4": "0.0.0.0",
        "ipv6": "::",
    }.get(ct.kind, "")


def _describe(value: Any) -> str:
    return cut_text(repr(value), 60)


def convert(value: Any, ct: ColumnType, *, strict: bool) -> Any:
    """Convert one value for a column of type ``ct``.

    Parameters
    ----------
    value : Any
        The value as read (JSON value, CSV text, Parquet Python value).
    ct : ColumnType
        Target column type.
    strict : bool
        JSON typing: numbers only from JSON numbers, strings only from JSON strings.

    Returns
    -------
    Any
        A value for an Arrow array of :func:`arrow_type` (timestamps as epoch ms, maps as
        lists of pairs).

    Raises
    ------
    ValueError
        With a short reason (the caller adds the column name).
    """
    if value is None or (not strict and isinstance(value, str) and value == ""):
        return default(ct)
    kind = ct.kind
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, Decimal):
        value = int(value) if value == value.to_integral_value() else float(value)
    if kind == "string":
        if isinstance(value, str):
            return value
        if strict or isinstance(value, dict | list | tuple):
            raise ValueError(f"expected a string, got {type(value).__name__}")
        return str(value)
    if kind == "int":
        number = _integer(value, strict)
        low, high = (
            (-(2 ** (ct.bits - 1)), 2 ** (ct.bits - 1) - 1) if ct.signed else (0, 2**ct.bits - 1)
        )
        if not low <= number <= high:
            raise ValueError(f"{number} is out of range for {ct.text}")
        return number
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"expected a number, got {type(value).__name__}")
        if isinstance(value, str):
            if strict:
                raise ValueError("expected a number, got a string")
            try:
                return float(value.strip())
            except ValueError:
                raise ValueError(f"{_describe(value)} is not a number") from None
        return float(value)
    if kind == "bool":
        return _boolean(value, strict)
    if kind == "datetime":
        if isinstance(value, datetime):
            aware = value if value.tzinfo else value.replace(tzinfo=UTC)
            return parse_timestamp(aware.isoformat())
        if isinstance(value, date):
            return parse_timestamp(value.isoformat())
        return parse_timestamp(value, numeric_strings=not strict)
    if kind == "date":
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if not isinstance(value, str):
            raise ValueError(f"expected a date, got {type(value).__name__}")
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{_describe(value)} is not a YYYY-MM-DD date") from None
    if kind in ("uuid", "ipv4", "ipv6"):
        return _address(value, kind)
    if kind == "array":
        items = _container(value, list, strict, "array")
        return [convert(v, ct.item, strict=strict) for v in items]
    if kind == "map":
        mapping = _container(value, dict, strict, "object")
        pairs = []
        for key, item in mapping.items():
            if not isinstance(key, str):
                raise ValueError(f"map key {_describe(key)} is not a string")
            try:
                pairs.append((key, convert(item, ct.item, strict=strict)))
            except ValueError as exc:
                raise ValueError(f"key {cut_text(key, 60)!r}: {exc}") from None
        return pairs
    raise ValueError(f"unsupported type {ct.text}")  # pragma: no cover - parse_type guards


def _integer(value: Any, strict: bool) -> int:
    if isinstance(value, bool):
        raise ValueError("expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if strict or not math.isfinite(value) or not value.is_integer():
            raise ValueError(f"expected an integer, got {_describe(value)}")
        return int(value)
    if isinstance(value, str) and not strict:
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if math.isfinite(number) and number.is_integer() and abs(number) < 2**63:
            return int(number)
        raise ValueError(f"{_describe(value)} is not an integer")
    raise ValueError(f"expected an integer, got {type(value).__name__}")


def _boolean(value: Any, strict: bool) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and not strict:
        word = value.strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
    raise ValueError(f"{_describe(value)} is not a boolean")


def _address(value: Any, kind: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    try:
        if kind == "uuid":
            return str(uuid.UUID(value.strip()))
        parsed = ipaddress.ip_address(value.strip())
    except ValueError:
        raise ValueError(f"{_describe(value)} is not a valid {kind.upper()}") from None
    if kind == "ipv4" and parsed.version != 4:
        raise ValueError(f"{_describe(value)} is not an IPv4 address")
    return str(parsed)


def _container(value: Any, expected: type, strict: bool, word: str) -> Any:
    if isinstance(value, str) and not strict:
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            raise ValueError(f"{_describe(value)} is not a JSON {word}") from None
    if expected is dict and isinstance(value, list | tuple) and not strict:
        if all(isinstance(p, list | tuple) and len(p) == 2 for p in value):
            value = dict(value)  # Parquet maps arrive as lists of (key, value) pairs
    if expected is list and isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, expected):
        raise ValueError(f"expected a JSON {word}, got {type(value).__name__}")
    return value


def build_array(values: list[Any], ct: ColumnType) -> pa.Array:
    """Build the Arrow array for converted values of one column.

    Parameters
    ----------
    values : list
        Outputs of :func:`convert` for this column.
    ct : ColumnType
        Column type.

    Returns
    -------
    pyarrow.Array
        Array of :func:`arrow_type` (timestamps given as epoch milliseconds).
    """
    return pa.array(values, type=arrow_type(ct))


def coerce_column(values: pa.Array, ct: ColumnType) -> tuple[pa.Array, dict[int, str]]:
    """Convert a whole column leniently, vectorised when Arrow can, value by value if not.

    Parameters
    ----------
    values : pyarrow.Array
        The column as read (strings from CSV, any Arrow type from Parquet).
    ct : ColumnType
        Target column type.

    Returns
    -------
    array : pyarrow.Array
        Converted values (the default where a value failed).
    errors : dict
        Position to reason, for the values that could not be converted.
    """
    try:
        fast = _fast_path(values, ct)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OverflowError):
        fast = None
    if fast is not None:
        return fast, {}
    converted, errors = [], {}
    fallback = default(ct)
    for i, value in enumerate(values.to_pylist()):
        try:
            converted.append(convert(value, ct, strict=False))
        except ValueError as exc:
            errors[i] = str(exc)
            converted.append(fallback)
    return build_array(converted, ct), errors


def _fill(array: pa.Array, ct: ColumnType) -> pa.Array:
    if ct.nullable or array.null_count == 0:
        return array
    return pc.fill_null(array, pa.scalar(default(ct), type=array.type))


def _fast_path(values: pa.Array, ct: ColumnType) -> pa.Array | None:
    source = values.type
    textual = pa.types.is_string(source) or pa.types.is_large_string(source)
    if ct.kind == "string" and textual:
        return _fill(values.cast(pa.string()), ct)
    if ct.kind in ("int", "float"):
        if textual:
            values = pc.if_else(pc.equal(values, ""), pa.scalar(None, source), values)
        elif not (pa.types.is_integer(source) or pa.types.is_floating(source)):
            return None
        return _fill(values.cast(arrow_type(ct), safe=True), ct)
    if ct.kind == "datetime" and pa.types.is_timestamp(source):
        cast = values.cast(TIMESTAMP, safe=False)
        low, high = pc.min_max(cast.cast(pa.int64())).values()
        if low.is_valid and not (MIN_MS <= low.as_py() and high.as_py() <= MAX_MS):
            return None
        return _fill(cast, ct)
    if ct.kind == "bool" and pa.types.is_boolean(source):
        return _fill(values, ct)
    return None


_COLUMN_LINE = re.compile(r"^\s+([A-Za-z_][A-Za-z0-9_]*)\s+(.+?),?\s*$", re.M)
#: What may follow a column's type in DDL (``UInt32 DEFAULT 1``): not part of the type.
_COLUMN_EXTRAS = re.compile(
    r"\s+(?:DEFAULT|MATERIALIZED|EPHEMERAL|ALIAS|CODEC|TTL|COMMENT)\b.*", re.S
)


@functools.cache
def schema_columns(table: str) -> dict[str, str]:
    """Column names and types of a workbench table, read from its DDL file.

    Used where a parser runs without a store (tests, notebooks); with a store, the loader
    passes the live table's ``DESCRIBE`` instead.

    Parameters
    ----------
    table : str
        Table name, such as ``http_requests``.

    Returns
    -------
    dict
        Column name to ClickHouse type, in table order.

    Raises
    ------
    InputError
        When no schema file defines the table.
    """
    from workbench.store.schema import load_tables

    for ddl in load_tables():
        if ddl.name == table:
            body = ddl.sql[ddl.sql.index("(") + 1 : ddl.sql.rindex(")", 0, ddl.sql.index("ENGINE"))]
            return {
                name: _COLUMN_EXTRAS.sub("", ch_type)
                for name, ch_type in _COLUMN_LINE.findall(body)
            }
    raise InputError(f"no schema file defines table {table}")
