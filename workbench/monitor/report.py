"""The result of a drift run: :class:`DriftReport`, which renders and serialises itself."""

from __future__ import annotations

import datetime as dt
import html
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import InputError
from workbench.monitor.sources import Window
from workbench.monitor.stats import SEVERITIES, Thresholds, worst


def json_ready(value: Any) -> Any:
    """Return ``value`` with numpy scalars as Python numbers and NaN or infinities as ``None``.

    Parameters
    ----------
    value : Any
        Nested dicts, lists, tuples, arrays and scalars.

    Returns
    -------
    Any
        The same structure, serialisable as strict JSON.
    """
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [json_ready(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


@dataclass
class DriftReport:
    """Drift between two windows, one row per compared column; renders itself.

    Attributes
    ----------
    reference, current : Window
        The windows.
    results : pandas.DataFrame
        Rows of :func:`measure_drift` for every group compared.
    entity : str
        Entity kind whose features were compared (``""`` when none).
    weight : str
        ``entities`` or ``requests`` (how entity features were weighted).
    thresholds : Thresholds
        PSI thresholds used.
    notes : list of str
        Things to know when reading the result (windows of different lengths, model
        versions seen in one window only ...).
    run_id : str
        Identifier of this run (kept in the ``monitoring`` table).
    run_time : datetime.datetime
        When it ran, UTC.
    """

    reference: Window
    current: Window
    results: pd.DataFrame
    entity: str = ""
    weight: str = "entities"
    thresholds: Thresholds = field(default_factory=Thresholds)
    notes: list[str] = field(default_factory=list)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    run_time: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def verdict(self) -> str:
        """The worst severity over every compared column (``none``, ``minor``, ``major``)."""
        return worst(list(self.results["severity"])) if len(self.results) else "none"

    def flagged(self, at_least: str = "minor") -> pd.DataFrame:
        """Return the rows whose severity is at least ``at_least``, largest PSI first.

        Parameters
        ----------
        at_least : {"minor", "major"}, default "minor"
            Lowest severity to keep.

        Returns
        -------
        pandas.DataFrame
            The flagged rows (without ``details``).
        """
        if at_least not in SEVERITIES:
            raise InputError(f"severity must be one of {', '.join(SEVERITIES)}, got {at_least!r}")
        floor = SEVERITIES.index(at_least)
        keep = self.results["severity"].map(SEVERITIES.index) >= floor
        return self.to_frame()[keep.to_numpy()].sort_values("psi", ascending=False)

    def to_frame(self) -> pd.DataFrame:
        """Return the results without the ``details`` column."""
        return self.results.drop(columns=["details"]).reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as strict-JSON-ready data (NaN as ``None``, times in ISO 8601).

        Returns
        -------
        dict
            ``run_id``, ``run_time``, ``reference``, ``current``, ``entity``, ``weight``,
            ``thresholds``, ``verdict``, ``notes`` and ``results`` (one dict per row).
        """
        return json_ready(
            {
                "run_id": self.run_id,
                "run_time": self.run_time,
                "reference": {"start": self.reference.start, "end": self.reference.end},
                "current": {"start": self.current.start, "end": self.current.end},
                "entity": self.entity,
                "weight": self.weight,
                "thresholds": {
                    "minor": self.thresholds.minor,
                    "major": self.thresholds.major,
                    "alpha": self.thresholds.alpha,
                },
                "verdict": self.verdict,
                "notes": list(self.notes),
                "results": self.results.to_dict("records"),
            }
        )

    def summary(self) -> str:
        """Return one line: the verdict and how many columns are flagged."""
        counts = self.results["severity"].value_counts()
        return (
            f"drift {self.verdict}: {int(counts.get('major', 0))} major, "
            f"{int(counts.get('minor', 0))} minor of {len(self.results)} compared "
            f"(reference {self.reference}, current {self.current})"
        )

    def save_html(self, path: str | Path) -> Path:
        """Write :meth:`_repr_html_` as a standalone HTML page.

        Parameters
        ----------
        path : str or Path
            The file to write (parent folders are created).

        Returns
        -------
        Path
            The file.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        title = html.escape(f"Drift: {self.current} against {self.reference}")
        path.write_text(
            f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>'
            f"<body>{self._repr_html_()}</body></html>",
            encoding="utf-8",
        )
        return path

    def _repr_html_(self) -> str:
        """Render the report as an HTML table (every value escaped)."""
        head = ("group", "subject", "psi", "ks", "js", "severity")
        rows = []
        for rec in self.results.sort_values("psi", ascending=False).to_dict("records"):
            cells = []
            for col in head:
                value = rec[col]
                text = (
                    f"{value:.4f}"
                    if isinstance(value, float) and np.isfinite(value)
                    else str(value)
                )
                text = "" if text == "nan" else text
                cells.append(f"<td>{html.escape(text)}</td>")
            rows.append(
                f'<tr class="severity-{html.escape(str(rec["severity"]))}">{"".join(cells)}</tr>'
            )
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return (
            f"<div><p><b>{html.escape(self.summary())}</b></p>"
            + (f"<ul>{notes}</ul>" if notes else "")
            + "<table><thead><tr>"
            + "".join(f"<th>{h}</th>" for h in head)
            + f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        )
