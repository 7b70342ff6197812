"""Labelled payload CSV (HttpParamsDataset style) into ``payloads`` for the text classifier.

The header names the columns, in any order: ``payload``, ``attack_type`` and ``label`` are
required, ``length`` is optional (checked to be a whole number when present, not stored;
in the published files it sometimes differs from the payload's character count, so it is
not compared), other columns are counted as unknown fields. Payload values are kept exactly
(commas, quotes, newlines inside quotes, leading spaces); an empty payload is a valid value.
A record without the header's number of fields, with an empty ``attack_type`` or ``label``,
or a non-numeric ``length``, is rejected.

``Split`` comes from ``--split`` or the file name (``train``, ``test``, ``val``/``valid``/
``validation``/``dev`` as a word of the name); ``PayloadID`` is deterministic (file hash
and line).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import pyarrow as pa

from workbench.errors import InputError
from workbench.ingest.common import Record, Reject, count_unknown, cut_text, record_ids, reject
from workbench.ingest.records import split_csv_text

TABLE = "payloads"
REQUIRED = ("payload", "attack_type", "label")
OPTIONAL = ("length",)
_SPLITS = {
    "train": "train", "training": "train", "test": "test", "testing": "test",
    "val": "validation", "valid": "validation", "validation": "validation", "dev": "validation",
}  # fmt: skip
_SCHEMA = pa.schema(
    [
        ("PayloadID", pa.string()), ("Payload", pa.string()), ("AttackType", pa.string()),
        ("label", pa.string()), ("Split", pa.string()),
    ]
)  # fmt: skip
#: Columns of the rows this parser returns.
COLUMNS = tuple(_SCHEMA.names)


def infer_split(file_name: str) -> str:
    """Guess the data split from a file name.

    Parameters
    ----------
    file_name : str
        For example ``payload_train.csv``.

    Returns
    -------
    str
        ``train``, ``test``, ``validation``, or ``""`` when the name does not say (or says
        more than one).
    """
    words = re.split(r"[^a-z]+", file_name.lower())
    found = {_SPLITS[w] for w in words if w in _SPLITS}
    return found.pop() if len(found) == 1 else ""


def header_positions(header: Sequence[str]) -> dict[str, int]:
    """Check a payload CSV header and return the position of each known column.

    Parameters
    ----------
    header : sequence of str
        Header fields (case and surrounding spaces are ignored).

    Returns
    -------
    dict
        Column name to its index, for the required and optional columns present.

    Raises
    ------
    InputError
        When a required column is missing or a name appears twice.
    """
    names = [h.strip().lower() for h in header]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        shown = cut_text(",".join(header), 200)
        raise InputError(
            f"payload CSV header must have columns {','.join(REQUIRED)} (and optionally "
            f"length); missing {', '.join(missing)} in header {shown!r}"
        )
    twice = sorted({n for n in names if names.count(n) > 1 and n in REQUIRED + OPTIONAL})
    if twice:
        raise InputError(f"payload CSV header names {', '.join(twice)} more than once")
    return {n: names.index(n) for n in REQUIRED + OPTIONAL if n in names}


def parse_payload_csv(
    records: Iterable[Record],
    *,
    header: Sequence[str] = ("payload", "length", "attack_type", "label"),
    split: str = "",
    file_id: str = "",
    unknown: Counter | None = None,
) -> tuple[pa.Table, list[Reject]]:
    """Parse the data records of a labelled payload CSV.

    Parameters
    ----------
    records : iterable of (int, str)
        Line number and text of each CSV record after the header (from
        :func:`workbench.ingest.records.csv_records`).
    header : sequence of str, optional
        The file's header fields.
    split : str, optional
        Value of ``Split`` for every row.
    file_id : str, optional
        Content hash of the file, for the deterministic ``PayloadID``.
    unknown : collections.Counter, optional
        Counts header columns that are not loaded, once per record.

    Returns
    -------
    rows : pyarrow.Table
        ``PayloadID``, ``Payload``, ``AttackType``, ``label``, ``Split``.
    rejects : list of Reject
        Malformed records.
    """
    positions = header_positions(header)
    extra = [h for i, h in enumerate(header) if i not in positions.values()]
    width = len(header)
    columns: dict[str, list] = {"Payload": [], "AttackType": [], "label": []}
    numbers: list[int] = []
    rejects: list[Reject] = []
    for number, text in records:
        fields = split_csv_text(text)
        problem = _check(fields, width, positions)
        if problem is not None:
            rejects.append(reject(number, problem, text))
            continue
        numbers.append(number)
        columns["Payload"].append(fields[positions["payload"]])
        columns["AttackType"].append(fields[positions["attack_type"]].strip())
        columns["label"].append(fields[positions["label"]].strip())
    if unknown is not None and numbers:
        for name in extra:
            count_unknown(unknown, name, len(numbers))
    table = pa.table(
        {
            "PayloadID": record_ids(file_id, numbers),
            **columns,
            "Split": [split] * len(numbers),
        },
        schema=_SCHEMA,
    )
    return table, rejects


def _check(fields: list[str] | str, width: int, positions: dict[str, int]) -> str | None:
    if isinstance(fields, str):
        return fields
    if len(fields) != width:
        return f"expected {width} fields, got {len(fields)}"
    for name in ("attack_type", "label"):
        if not fields[positions[name]].strip():
            return f"empty {name}"
    if "length" in positions:
        length = fields[positions["length"]].strip()
        if not (length.isascii() and length.isdigit()):
            return f"length {cut_text(length, 40)!r} is not a whole number"
    return None
