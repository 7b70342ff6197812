"""Import analyst labels from a CSV file into the ``labels`` table.

Columns (header names are matched case-insensitively, with common aliases): ``entity``
(required), ``verdict`` (required), ``analyst``, ``note``, ``time``. Rows with an empty
entity, empty verdict, empty analyst (and no default) or an unreadable time are bad rows:
they are counted and reported with their line numbers, never silently dropped. A verdict
word outside the vocabulary refuses the whole file, naming the words and lines, because a
mistyped verdict means the file's meaning is unclear.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from workbench.errors import InputError
from workbench.labels.store import VERDICTS, write_labels
from workbench.store.base import Store

#: Accepted header names for each field (lower case, spaces and dashes as underscores).
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "entity": ("entity", "ip", "client_ip", "clientip", "key", "value"),
    "verdict": ("verdict", "label", "decision"),
    "analyst": ("analyst", "user", "labeller", "labeler", "by"),
    "note": ("note", "notes", "comment", "comments"),
    "time": ("time", "label_time", "labeltime", "timestamp", "date"),
}
MAX_REPORTED = 20


@dataclass
class ImportResult:
    """What :func:`import_labels_csv` did.

    Attributes
    ----------
    inserted : int
        Rows written to ``labels``.
    bad_rows : list of tuple
        ``(line, reason)`` for each row not written (line 1 is the header).
    columns : dict of str to str
        Which CSV header each field was read from.
    """

    inserted: int
    bad_rows: list[tuple[int, str]] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)

    @property
    def bad(self) -> int:
        """Number of bad rows."""
        return len(self.bad_rows)

    def describe(self) -> str:
        """One line per fact, for the command line."""
        lines = [f"inserted {self.inserted} labels; {self.bad} bad rows"]
        lines += [f"  line {n}: {why}" for n, why in self.bad_rows[:MAX_REPORTED]]
        if self.bad > MAX_REPORTED:
            lines.append(f"  ... and {self.bad - MAX_REPORTED} more")
        return "\n".join(lines)


def _map_columns(header: list[str]) -> dict[str, str]:
    norm = {h.strip().lower().replace(" ", "_").replace("-", "_"): h for h in header}
    found: dict[str, str] = {}
    for fld, aliases in COLUMN_ALIASES.items():
        for alias in aliases:
            if alias in norm:
                found[fld] = norm[alias]
                break
    missing = [f for f in ("entity", "verdict") if f not in found]
    if missing:
        raise InputError(
            f"the CSV has no {' or '.join(missing)} column; header is {header!r} "
            f"(accepted names: {', '.join(COLUMN_ALIASES['entity'])} / "
            f"{', '.join(COLUMN_ALIASES['verdict'])})"
        )
    return found


def import_labels_csv(
    store: Store,
    path: str | Path,
    entity_type: str = "ip",
    analyst: str | None = None,
    source: str = "csv",
    strict: bool = False,
) -> ImportResult:
    """Read a CSV of analyst verdicts and insert its good rows into ``labels``.

    Parameters
    ----------
    store : Store
        Where the ``labels`` table is.
    path : str or Path
        The CSV file (UTF-8, header row).
    entity_type : str, default "ip"
        Entity kind the ``entity`` column holds.
    analyst : str, optional
        Analyst for rows without one (rows without one are bad when omitted).
    source : str, default "csv"
        Stored in ``Source``.
    strict : bool, default False
        Refuse the whole file when any row is bad.

    Returns
    -------
    ImportResult
        Rows inserted and the bad rows with their reasons.

    Raises
    ------
    InputError
        Missing file or columns, unknown verdict words, or bad rows with ``strict``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such CSV file: {path}")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path} is not a readable UTF-8 CSV file: {exc}") from exc
    if not rows:
        raise InputError(f"{path} is empty; it needs a header row")
    header = rows[0]
    cols = _map_columns(header)
    pos = {f: header.index(h) for f, h in cols.items()}
    good: dict[str, list] = {"entity": [], "verdict": [], "analyst": [], "note": [], "time": []}
    bad: list[tuple[int, str]] = []
    unknown: list[tuple[int, str]] = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            bad.append((line, "empty row"))
            continue
        if len(row) != len(header):
            bad.append((line, f"{len(row)} fields, header has {len(header)}"))
            continue
        get = {f: row[i].strip() for f, i in pos.items()}
        if not get["entity"]:
            bad.append((line, "empty entity"))
            continue
        verdict = get["verdict"].lower()
        if not verdict:
            bad.append((line, "empty verdict"))
            continue
        if verdict not in VERDICTS:
            unknown.append((line, get["verdict"]))
            continue
        who = get.get("analyst") or analyst
        if not who:
            bad.append((line, "no analyst (add the column or pass a default analyst)"))
            continue
        stamp = pd.Timestamp.now(tz="UTC")
        if get.get("time"):
            try:
                stamp = pd.Timestamp(get["time"])
                stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
            except (ValueError, TypeError):
                bad.append((line, f"unreadable time {get['time']!r}"))
                continue
            if pd.isna(stamp):
                bad.append((line, f"unreadable time {get['time']!r}"))
                continue
        good["entity"].append(get["entity"])
        good["verdict"].append(verdict)
        good["analyst"].append(who)
        good["note"].append(get.get("note", ""))
        good["time"].append(stamp)
    if unknown:
        shown = ", ".join(f"line {n}: {w!r}" for n, w in unknown[:MAX_REPORTED])
        raise InputError(
            f"{path}: {len(unknown)} rows have unknown verdicts ({shown}); "
            f"use one of {', '.join(VERDICTS)}. Nothing was imported."
        )
    if strict and bad:
        raise InputError(
            f"{path}: {len(bad)} bad rows (first: line {bad[0][0]}, {bad[0][1]}); "
            "nothing was imported"
        )
    inserted = 0
    if good["entity"]:
        written = write_labels(
            store,
            good["entity"],
            good["verdict"],
            good["analyst"],
            source,
            entity_type=entity_type,
            times=good["time"],
            notes=good["note"],
        )
        inserted = len(written)
    return ImportResult(inserted=inserted, bad_rows=bad, columns=cols)
