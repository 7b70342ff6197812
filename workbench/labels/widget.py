"""A JupyterLab widget to label a queue of entities: evidence, score and verdict buttons.

Each click on a verdict button writes one row to ``labels`` (analyst, time, ``Source =
'widget'``, the model that proposed the entity) and moves to the next entity. All
attacker-controlled text (entity values, feature values) is HTML-escaped before display.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import pandas as pd

from workbench.errors import InputError
from workbench.labels.store import normalize_verdict, write_labels
from workbench.store.base import Store

#: Buttons shown by default: two bad and two normal verdicts.
DEFAULT_VERDICTS = ("bad_bot", "malicious", "human", "benign")
#: Columns of a queue frame that are not features.
META_COLUMNS = ("rank", "probability", "score")


class LabelWidget:
    """Label the rows of a queue (:func:`workbench.labels.queue.build_queue`) one by one.

    Parameters
    ----------
    store : Store
        Where the ``labels`` table is.
    queue : pandas.DataFrame
        One row per entity: the entity column, optionally ``probability`` / ``score``, and
        the features to show as evidence.
    analyst : str
        Who is labelling (stored on every row).
    entity_column : str, default "ClientIP"
        Column holding the entity value.
    entity_type : str, default "ip"
        Entity kind stored in ``EntityType``.
    model : str, default ""
        Name or path of the model that proposed the queue.
    verdicts : sequence of str, default :data:`DEFAULT_VERDICTS`
        One button per verdict word.

    Attributes
    ----------
    position : int
        Index of the entity shown.
    written : list of pandas.DataFrame
        Rows written, one frame per click.
    """

    def __init__(
        self,
        store: Store,
        queue: pd.DataFrame,
        analyst: str,
        entity_column: str = "ClientIP",
        entity_type: str = "ip",
        model: str = "",
        verdicts: Sequence[str] = DEFAULT_VERDICTS,
    ) -> None:
        if entity_column not in queue.columns:
            raise InputError(f"the queue has no {entity_column!r} column")
        if not str(analyst).strip():
            raise InputError("the widget needs an analyst name")
        self.store = store
        self.queue = queue.reset_index(drop=True)
        self.analyst = str(analyst).strip()
        self.entity_column = entity_column
        self.entity_type = entity_type
        self.model = str(model)
        self.verdicts = [normalize_verdict(v) for v in verdicts]
        self.position = 0
        self.written: list[pd.DataFrame] = []
        self.note = widgets.Text(placeholder="note (optional)", description="Note")
        self.evidence = widgets.HTML()
        self.status = widgets.HTML()
        self.buttons = []
        for verdict in self.verdicts:
            button = widgets.Button(description=verdict, tooltip=f"label as {verdict}")
            button.on_click(self.on_click)
            self.buttons.append(button)
        self.skip_button = widgets.Button(description="skip", tooltip="next without a label")
        self.skip_button.on_click(self.on_skip)
        self.box = widgets.VBox(
            [self.evidence, self.note, widgets.HBox([*self.buttons, self.skip_button]),
             self.status]
        )  # fmt: skip
        self._render()

    @property
    def done(self) -> bool:
        """True once every row of the queue was labelled or skipped."""
        return self.position >= len(self.queue)

    def current(self) -> pd.Series | None:
        """Return the queue row shown now, or None when the queue is finished."""
        return None if self.done else self.queue.iloc[self.position]

    def _render(self) -> None:
        row = self.current()
        if row is None:
            self.evidence.value = "<b>Queue finished.</b>"
            for b in (*self.buttons, self.skip_button):
                b.disabled = True
            return
        entity = html.escape(str(row[self.entity_column]))
        head = f"<h4>{self.position + 1}/{len(self.queue)}: {entity}</h4>"
        facts = []
        for name in ("probability", "score"):
            if name in row.index:
                facts.append(f"{name}: <b>{html.escape(f'{float(row[name]):.3g}')}</b>")
        cells = "".join(
            f"<tr><td>{html.escape(str(c))}</td><td>{html.escape(str(row[c]))}</td></tr>"
            for c in self.queue.columns
            if c not in (self.entity_column, *META_COLUMNS)
        )
        self.evidence.value = f"{head}<p>{' · '.join(facts)}</p><table>{cells}</table>"

    def label_current(self, verdict: str) -> pd.DataFrame:
        """Write the shown entity's label and move to the next one.

        Parameters
        ----------
        verdict : str
            A verdict word.

        Returns
        -------
        pandas.DataFrame
            The row written.
        """
        row = self.current()
        if row is None:
            raise InputError("the queue is finished; nothing left to label")
        written = write_labels(
            self.store,
            [str(row[self.entity_column])],
            [verdict],
            self.analyst,
            "widget",
            entity_type=self.entity_type,
            notes=self.note.value,
            model=self.model,
        )
        self.written.append(written)
        self.status.value = html.escape(f"{row[self.entity_column]} labelled {verdict}")
        self.note.value = ""
        self.position += 1
        self._render()
        return written

    def on_click(self, button: widgets.Button) -> None:
        """Button handler: label the shown entity with the button's verdict."""
        self.label_current(button.description)

    def on_skip(self, button: widgets.Button) -> None:
        """Button handler: move on without writing a label."""
        if not self.done:
            self.position += 1
            self._render()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box)

    def show(self) -> Any:
        """Return the widget box (for ``display`` or as a cell's last expression)."""
        return self.box
