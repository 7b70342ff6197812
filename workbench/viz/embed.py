r"""Plotly figures as HTML for self-contained reports: plotly.js once, figures as inert JSON.

A figure becomes ``<div>`` plus a ``<script>`` that calls ``Plotly.newPlot`` with the figure's
JSON. The JSON is made safe to sit inside a ``<script>`` element (``<``, ``>``, ``&`` and the
JavaScript line separators escaped as ``\uXXXX``), so no string in the data can close the
script or start markup. plotly.js itself comes from the installed ``plotly`` package, inlined
once per page: the page needs no network.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

#: Options of every embedded figure: no plotly logo, no "edit in chart studio" link.
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True, "showLink": False}
_NONCE = re.compile(r"[A-Za-z0-9+/=_-]{8,128}")
_DIV_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


@functools.cache
def plotly_js() -> str:
    """Return the plotly.js bundle shipped with the installed ``plotly`` package.

    Returns
    -------
    str
        The minified library (about 4.8 MB), with any ``</script`` made inert.
    """
    from plotly.offline import get_plotlyjs

    return get_plotlyjs().replace("</script", "<\\/script")


def script_json(value: Any) -> str:
    """Serialize ``value`` as JSON that is safe inside an HTML ``<script>`` element.

    Parameters
    ----------
    value : Any
        JSON-serializable data (plotly figures: numpy arrays and datetimes are handled by
        plotly's own encoder first).

    Returns
    -------
    str
        JSON text with ``<``, ``>``, ``&``, U+2028 and U+2029 escaped.
    """
    if isinstance(value, go.Figure):
        value = value.to_plotly_json()
    text = pio.json.to_json_plotly(value)
    return re.sub("[<>&\u2028\u2029]", lambda m: _UNSAFE[m.group(0)], text)


def figure_html(figure: go.Figure | Mapping[str, Any], *, div_id: str | None = None,
                nonce: str | None = None, height: int | None = None) -> str:  # fmt: skip
    """Return a ``<div>`` and ``<script>`` that draw ``figure`` with an already loaded plotly.js.

    Parameters
    ----------
    figure : plotly Figure or mapping
        The figure, or its JSON form (``{"data": [...], "layout": {...}}``) as found in a
        notebook's ``application/vnd.plotly.v1+json`` output.
    div_id : str, optional
        Element id (letters, digits, ``-``, ``_``); a random one by default.
    nonce : str, optional
        Content-Security-Policy nonce for the script element.
    height : int, optional
        Height in pixels of the placeholder; the figure's own height by default.

    Returns
    -------
    str
        The markup.

    Raises
    ------
    ValueError
        When ``div_id`` or ``nonce`` has characters outside their safe sets, or ``figure``
        has no ``data`` list.
    """
    spec = figure.to_plotly_json() if isinstance(figure, go.Figure) else dict(figure)
    if not isinstance(spec.get("data", []), list):
        raise ValueError("a plotly figure needs a 'data' list")
    div_id = div_id or f"wb-fig-{uuid.uuid4().hex[:12]}"
    if not _DIV_ID.fullmatch(div_id):
        raise ValueError(f"invalid element id {div_id!r}")
    if nonce is not None and not _NONCE.fullmatch(nonce):
        raise ValueError("invalid nonce")
    layout = spec.get("layout") or {}
    if height is None:
        raw = layout.get("height") if isinstance(layout, Mapping) else None
        height = int(raw) if isinstance(raw, int | float) and 50 <= raw <= 5000 else 420
    payload = script_json({"data": spec.get("data", []), "layout": layout, "config": PLOTLY_CONFIG})
    nonce_attr = f' nonce="{nonce}"' if nonce else ""
    return (
        f'<div id="{div_id}" class="wb-figure" style="height:{int(height)}px"></div>'
        f"<script{nonce_attr}>(function(){{"
        f"var f={payload};"
        f'Plotly.newPlot(document.getElementById("{div_id}"),f.data,f.layout,f.config);'
        f"}})();</script>"
    )


def plotly_script_tag(nonce: str | None = None) -> str:
    """Return a ``<script>`` element holding plotly.js, for a page's ``<head>``.

    Parameters
    ----------
    nonce : str, optional
        Content-Security-Policy nonce.

    Returns
    -------
    str
        The element.
    """
    if nonce is not None and not _NONCE.fullmatch(nonce):
        raise ValueError("invalid nonce")
    nonce_attr = f' nonce="{nonce}"' if nonce else ""
    return f'<script{nonce_attr} type="text/javascript">{plotly_js()}</script>'
