"""What ``wb`` subcommands share on the terminal: the window option and safely printed tables.

Values printed come from data, so control characters (terminal escape sequences) are shown
escaped, never sent to the terminal as they are.
"""

from __future__ import annotations

from typing import Annotated

import pandas as pd
import typer

#: A ``START END`` option: the window ``[START, END)``, as given (UTC ISO 8601).
Window = Annotated[
    tuple[str, str], typer.Option(metavar="START END", help="Window [START, END), UTC ISO-8601.")
]


def printable(value: object) -> str:
    """Return ``value`` as text safe for a terminal: control characters shown escaped.

    Parameters
    ----------
    value : object
        Anything; it is converted with ``str``.

    Returns
    -------
    str
        The text, each non-printable character replaced by its escape as ``ascii`` writes it.
    """
    text = str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def show_table(frame: pd.DataFrame, strings_only: bool = False) -> None:
    """Print a frame as a plain table, its text escaped (:func:`printable`).

    Parameters
    ----------
    frame : pandas.DataFrame
        What to print; ``(no rows)`` when it is empty. Floats get four decimals.
    strings_only : bool, default False
        Escape only the object and string columns; by default every non-numeric column
        (times, categories ...) is converted to escaped text.
    """
    if frame.empty:
        typer.echo("(no rows)")
        return
    shown = frame.copy()
    for column in shown.columns:
        values = shown[column]
        if strings_only:
            escape = values.dtype == object or str(values.dtype) in ("string", "str")
        else:
            escape = not pd.api.types.is_numeric_dtype(values)
        if escape:
            shown[column] = shown[column].map(printable)
    typer.echo(shown.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
