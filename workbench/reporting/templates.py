"""Report templates: ``notebooks/reports/<name>.ipynb``, one ``parameters`` cell each.

A template is found by name in the project's ``notebooks/reports`` folder, or given as a
path to any ``.ipynb``. Loading one checks the rules every template follows: exactly one code
cell tagged ``parameters``, holding only ``name = literal`` assignments, none of them named
like a secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.config import PROJECT_DIR
from workbench.errors import InputError, ReportError
from workbench.reporting.params import template_parameters

TEMPLATES_DIR = PROJECT_DIR / "notebooks" / "reports"
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")


@dataclass(frozen=True)
class Template:
    """A report template.

    Attributes
    ----------
    name : str
        File name without ``.ipynb``: the report's name.
    path : Path
        The notebook.
    parameters : dict
        Parameter names to their defaults, in order.
    description : str
        First line of the first markdown cell, without ``#``.
    """

    name: str
    path: Path
    parameters: dict[str, Any]
    description: str


def find_template(template: str | Path, templates_dir: Path | None = None) -> Path:
    """Return the notebook a template name or path stands for.

    Parameters
    ----------
    template : str or Path
        A name (``traffic_overview``) looked up in ``templates_dir``, or a path ending
        in ``.ipynb``.
    templates_dir : Path, optional
        Where names are looked up (``notebooks/reports`` of the project by default).

    Returns
    -------
    Path
        The notebook.

    Raises
    ------
    ReportError
        When there is no such template.
    """
    folder = Path(templates_dir or TEMPLATES_DIR)
    text = str(template)
    if text.endswith(".ipynb"):
        path = Path(text).expanduser()
        if not path.is_file():
            raise ReportError(f"report template {path} does not exist")
        return path.resolve()
    if not _NAME.fullmatch(text):
        raise ReportError(f"{text[:80]!r} is not a template name (letters, digits, _)")
    path = folder / f"{text}.ipynb"
    if not path.is_file():
        known = ", ".join(t.stem for t in sorted(folder.glob("*.ipynb"))) or "none"
        raise ReportError(f"no report template {text!r} in {folder}; templates: {known}")
    return path.resolve()


def load_template(template: str | Path, templates_dir: Path | None = None) -> Template:
    """Find a template, read it and check its ``parameters`` cell.

    Parameters
    ----------
    template : str or Path
        Name or path (see :func:`find_template`).
    templates_dir : Path, optional
        Where names are looked up.

    Returns
    -------
    Template
        The template.

    Raises
    ------
    ReportError
        When it does not exist.
    InputError
        When it is not a notebook, has not exactly one ``parameters`` cell, or that cell
        holds anything but literal assignments with ordinary names.
    """
    import nbformat  # slow to import (JSON schema): only where a notebook is read

    path = find_template(template, templates_dir)
    name = path.stem
    if not _NAME.fullmatch(name):
        raise InputError(f"template file name {path.name!r} must be letters, digits and _")
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds
        raise InputError(f"{path} is not a readable notebook: {exc}") from None
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1 or cells[0].cell_type != "code":
        raise InputError(
            f"template {name} must have exactly one code cell tagged 'parameters' "
            f"(found {len(cells)})"
        )
    parameters = template_parameters(cells[0].source, name)
    description = ""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.strip():
            description = cell.source.strip().splitlines()[0].lstrip("#").strip()
            break
    return Template(name=name, path=path, parameters=parameters, description=description)


def list_templates(templates_dir: Path | None = None) -> list[Template]:
    """Return every template of a folder, by name.

    Parameters
    ----------
    templates_dir : Path, optional
        The folder (``notebooks/reports`` by default).

    Returns
    -------
    list of Template
        The templates.
    """
    folder = Path(templates_dir or TEMPLATES_DIR)
    return [load_template(path) for path in sorted(folder.glob("*.ipynb"))]
