"""Character heat maps of sample requests: why a char-CNN scores each request as it does.

The investigation shows an entity's newest requests; with a char-CNN model folder it also
explains the first few of them per character (gradient SHAP, :mod:`workbench.explain.cnn`)
and renders each as a heat map whose every character is escaped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import InputError
from workbench.viz import SafeHTML, concat, paragraph
from workbench.viz.explain import char_heatmap

#: Most requests explained in one report (each explanation is about one backward pass).
MAX_HEATMAPS = 20


@dataclass
class RequestHeatmaps:
    """Explained sample requests.

    Attributes
    ----------
    model : str
        ``name@hash`` of the char-CNN, or ``""``.
    head : str
        The explained head (``bot``: automated vs human; ``attack``: attack vs clean).
    titles : list of str
        One line per request: method, path and the model's probability.
    explanations : list of shap.Explanation
        One text's explanation per request (padding removed).
    probabilities : list of float
        The head's calibrated bad-class probability per request.
    note : str
        Why there are no heat maps, when there are none.
    """

    model: str = ""
    head: str = ""
    titles: list[str] | None = None
    explanations: list[Any] | None = None
    probabilities: list[float] | None = None
    note: str = ""

    def html(self) -> SafeHTML:
        """Return the heat maps, or the note saying why there are none."""
        if not self.explanations:
            return paragraph(self.note, "wb-note")
        return concat(*(
            char_heatmap(e, title=t)
            for t, e in zip(self.titles or [], self.explanations, strict=True)
        ))  # fmt: skip

    def _repr_html_(self) -> str:
        return str(self.html())


def _what(head: str) -> str:
    return "automated" if head == "bot" else "an attack"


def request_heatmaps(text_model: str | Path, requests: pd.DataFrame, n: int = 3) -> RequestHeatmaps:
    """Explain the first ``n`` requests with a char-CNN and prepare their heat maps.

    Parameters
    ----------
    text_model : str or Path
        A char-CNN model folder (``wb train charcnn``); ``""`` for none.
    requests : pandas.DataFrame
        Requests with the columns the model reads (``requests_for_entity`` rows).
    n : int, default 3
        Requests explained, 0 to :data:`MAX_HEATMAPS`.

    Returns
    -------
    RequestHeatmaps

    Raises
    ------
    InputError
        A missing folder, a folder holding another kind of model, or a bad ``n``.
    """
    from workbench.explain import explain_cnn, text_row
    from workbench.models import CharCNNClassifier, load_model
    from workbench.models.artifacts import model_tag

    if not 0 <= int(n) <= MAX_HEATMAPS:
        raise InputError(f"heatmaps must be between 0 and {MAX_HEATMAPS}, got {n}")
    if not str(text_model).strip():
        return RequestHeatmaps(note="No char-CNN was given (parameter text_model), so the "
                                    "requests are not explained per character.")  # fmt: skip
    folder = Path(text_model).expanduser()
    if not folder.is_dir():
        raise InputError(f"text model folder {folder} does not exist")
    artifact = load_model(folder)
    kind = artifact.config.get("kind")
    if kind != "charcnn":
        raise InputError(f"{folder} holds a {kind} model; text_model needs a char-CNN")
    model = CharCNNClassifier.from_state(artifact.weights, artifact.config, artifact.features)
    head = "bot" if "bot" in model.heads_ else model.head
    name = model_tag(artifact.card, folder.name)
    if requests.empty or int(n) == 0:
        return RequestHeatmaps(model=name, head=head, note="No requests to explain.")
    rows = requests.head(int(n)).reset_index(drop=True)
    explained = explain_cnn(model, rows, head=head)
    probabilities = np.asarray(model.predict_bad_proba(rows, head=head), dtype=float)
    titles = [
        f"{r.get('ClientRequestMethod', '')} {r.get('ClientRequestPath', '')} \u2014 "
        f"probability {_what(head)} {p:.3f}"
        for r, p in zip(rows.to_dict("records"), probabilities, strict=True)
    ]
    return RequestHeatmaps(
        model=name,
        head=head,
        titles=titles,
        explanations=[text_row(explained, i) for i in range(len(rows))],
        probabilities=[float(p) for p in probabilities],
    )
