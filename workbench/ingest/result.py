"""What an ingest run did, per file and in total: counts that always add up."""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field

import pandas as pd


@dataclass
class FileResult:
    """The outcome of loading one file.

    ``read == loaded + quarantined`` always holds: every record read is either a row in the
    target table or a row in ``quarantine``.

    Attributes
    ----------
    path : str
        The file as given.
    format : str
        Ingest format name.
    table : str
        Target table.
    source : str
        Value of the ``Source`` column of its rows: ``<file name>#<first 16 hex digits of
        the content SHA-256>``.
    sha256 : str
        SHA-256 of the decompressed content.
    read : int
        Records read (lines, CSV rows, requests or Parquet rows; blank lines are not records).
    loaded : int
        Rows inserted into ``table``.
    quarantined : int
        Records inserted into ``quarantine``.
    blank : int
        Blank separator lines seen (not records).
    already_loaded : bool
        The same content was loaded into ``table`` before; nothing was read or inserted.
    cleaned : int
        Rows removed first, left by an earlier load of this file that did not finish.
    unknown_fields : dict
        Field (column) names present in the input but not loaded, with the number of
        records that had them.
    """

    path: str
    format: str
    table: str
    source: str = ""
    sha256: str = ""
    read: int = 0
    loaded: int = 0
    quarantined: int = 0
    blank: int = 0
    already_loaded: bool = False
    cleaned: int = 0
    unknown_fields: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        """Return a one-line account of this file, as the CLI prints it.

        Returns
        -------
        str
            For example ``access.log: read 10,000, loaded 9,999, quarantined 1``.
        """
        if self.already_loaded:
            return f"{self.path}: already loaded into {self.table} ({self.source}), 0 new rows"
        text = (
            f"{self.path}: read {self.read:,}, loaded {self.loaded:,}, "
            f"quarantined {self.quarantined:,}"
        )
        if self.blank:
            text += f" ({self.blank:,} blank lines)"
        if self.cleaned:
            text += f"; removed {self.cleaned:,} rows of an unfinished earlier load first"
        return text


@dataclass
class IngestResult:
    """The outcome of one :func:`workbench.ingest.ingest` call.

    Attributes
    ----------
    files : list of FileResult
        One per input file, in the order given.
    """

    files: list[FileResult] = field(default_factory=list)

    @property
    def read(self) -> int:
        """Records read, all files."""
        return sum(f.read for f in self.files)

    @property
    def loaded(self) -> int:
        """Rows loaded, all files."""
        return sum(f.loaded for f in self.files)

    @property
    def quarantined(self) -> int:
        """Records quarantined, all files."""
        return sum(f.quarantined for f in self.files)

    @property
    def unknown_fields(self) -> dict[str, int]:
        """Unloaded field names with record counts, all files."""
        total: Counter = Counter()
        for f in self.files:
            total.update(f.unknown_fields)
        return dict(total.most_common())

    def summary(self) -> str:
        """Return the per-file lines, the totals, and the unknown fields, as text.

        Returns
        -------
        str
            Several lines for a person to read.
        """
        lines = [f.summary() for f in self.files]
        if len(self.files) > 1:
            lines.append(
                f"total: read {self.read:,}, loaded {self.loaded:,}, "
                f"quarantined {self.quarantined:,}"
            )
        unknown = self.unknown_fields
        if unknown:
            shown = ", ".join(f"{name} ({count:,})" for name, count in list(unknown.items())[:20])
            more = f" and {len(unknown) - 20} more" if len(unknown) > 20 else ""
            lines.append(f"fields not loaded: {shown}{more}")
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """Return one row per file with its counts.

        Returns
        -------
        pandas.DataFrame
            Columns ``path``, ``format``, ``table``, ``source``, ``read``, ``loaded``,
            ``quarantined``, ``blank``, ``already_loaded``, ``cleaned``.
        """
        columns = ["path", "format", "table", "source", "read", "loaded", "quarantined",
                   "blank", "already_loaded", "cleaned"]  # fmt: skip
        return pd.DataFrame(
            [{c: getattr(f, c) for c in columns} for f in self.files], columns=columns
        )

    def _repr_html_(self) -> str:
        rows = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
            for row in self.to_frame().itertuples(index=False)
        )
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.to_frame().columns)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
