"""The named-query library: queries are data, kept as ``queries/<family>/<name>.sql`` files.

Each file starts with a comment header, then SQL whose ``{name:Type}`` placeholders declare
its parameters::

    -- Requests from one entity in a time window, newest first.
    -- param entity: the entity's value (an IP, an ASN number, a JA4 ...)
    -- default entity_column: ClientIP
    -- default limit: 1000
    SELECT ... WHERE {entity_column:Identifier} = {entity:String} ...

The first comment line is the description; ``-- param NAME: text`` documents a parameter and
``-- default NAME: value`` gives its default (in ClickHouse text form).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import InputError, MissingParameter, UnknownQuery
from workbench.store.identifiers import check_identifier
from workbench.store.params import placeholders
from workbench.timespec import parse_time

QUERIES_DIR = Path(__file__).resolve().parent / "queries"
_HEADER = re.compile(r"--\s*(param|default)\s+([A-Za-z_][A-Za-z0-9_]*)\s*:\s?(.*)$")


@dataclass(frozen=True)
class NamedQuery:
    """One query of the library.

    Attributes
    ----------
    name : str
        File name without ``.sql``; unique across the library.
    family : str
        The folder it lives in (``requests``, ``entities`` ...).
    description : str
        One line, from the header.
    sql : str
        The whole file, header included.
    params : dict
        Parameter name to ClickHouse type, in order of appearance.
    defaults : dict
        Parameter name to default value (text form).
    docs : dict
        Parameter name to its documentation line.
    path : Path
        Where the file is.
    """

    name: str
    family: str
    description: str
    sql: str
    params: dict[str, str]
    defaults: dict[str, str] = field(default_factory=dict)
    docs: dict[str, str] = field(default_factory=dict)
    path: Path | None = None

    def bind(self, values: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """Fill defaults and check that every parameter has a value.

        Parameters
        ----------
        values : mapping
            Values given by the caller.

        Returns
        -------
        tuple of (str, dict)
            The SQL and the complete parameters.

        Raises
        ------
        MissingParameter
            When a parameter has neither a value nor a default.
        InputError
            When a value is given for a parameter the query does not have, an
            ``Identifier`` parameter is not a plain name, or a time is not a time.

        Notes
        -----
        Times given as text (``DateTime``/``DateTime64`` parameters) are read as people write
        them (:func:`workbench.timespec.parse_time`): ISO 8601 with or without ``Z`` or an
        offset, ``now`` or relative to now (``-24h``); naive times are UTC.
        """
        unknown = sorted(set(values) - set(self.params))
        if unknown:
            raise InputError(
                f"named query {self.name!r} has no parameter {unknown[0]!r}; "
                f"it takes: {', '.join(self.params) or 'none'}"
            )
        bound: dict[str, Any] = {}
        now = dt.datetime.now(dt.UTC)
        for name, ch_type in self.params.items():
            if name in values:
                bound[name] = values[name]
            elif name in self.defaults:
                bound[name] = self.defaults[name]
            else:
                raise MissingParameter(
                    f"named query {self.name!r} needs parameter {name!r} ({ch_type}): "
                    f"pass -p {name}=VALUE"
                )
            if ch_type == "Identifier":
                check_identifier(str(bound[name]))
            elif ch_type.startswith("DateTime") and isinstance(bound[name], str):
                bound[name] = parse_time(bound[name], now, name)
        return self.sql, bound


def parse_query(path: Path, family: str | None = None) -> NamedQuery:
    """Read one ``.sql`` file of the library.

    Parameters
    ----------
    path : Path
        The file.
    family : str, optional
        Its family; defaults to the parent folder's name.

    Returns
    -------
    NamedQuery
        The parsed query.

    Raises
    ------
    InputError
        When the header has no description or documents a parameter the SQL lacks.
    """
    text = path.read_text(encoding="utf-8")
    description = ""
    defaults: dict[str, str] = {}
    docs: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("--"):
            break
        match = _HEADER.match(stripped)
        if match:
            kind, name, value = match.groups()
            (defaults if kind == "default" else docs)[name] = value.strip()
        elif not description:
            description = stripped.lstrip("-").strip()
    params = placeholders(text)
    if not description:
        raise InputError(f"{path}: the first comment line must describe the query")
    stray = sorted((set(defaults) | set(docs)) - set(params))
    if stray:
        raise InputError(f"{path}: header names parameter {stray[0]!r} that the SQL does not use")
    return NamedQuery(
        name=path.stem,
        family=family or path.parent.name,
        description=description,
        sql=text,
        params=params,
        defaults=defaults,
        docs=docs,
        path=path,
    )


class QueryLibrary:
    """All named queries under one folder, by name.

    Parameters
    ----------
    root : Path, optional
        Folder holding ``<family>/<name>.sql`` files; the package's own by default.
    """

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root or QUERIES_DIR)
        self._queries: dict[str, NamedQuery] = {}
        for path in sorted(self.root.glob("*/*.sql")):
            query = parse_query(path)
            if query.name in self._queries:
                other = self._queries[query.name].path
                raise InputError(f"named query {query.name!r} is defined twice: {other} and {path}")
            self._queries[query.name] = query

    def names(self) -> list[str]:
        """Return every query name, sorted by family then name."""
        return [q.name for q in sorted(self._queries.values(), key=lambda q: (q.family, q.name))]

    def queries(self) -> list[NamedQuery]:
        """Return every query, sorted by family then name."""
        return [self._queries[n] for n in self.names()]

    def get(self, name: str) -> NamedQuery:
        """Return the query called ``name``.

        Raises
        ------
        UnknownQuery
            When there is none; the message lists close names.
        """
        try:
            return self._queries[name]
        except KeyError:
            import difflib

            close = difflib.get_close_matches(name, self._queries, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise UnknownQuery(
                f"no named query {name!r}{hint}; `wb query list` shows them all"
            ) from None


@functools.cache
def default_library() -> QueryLibrary:
    """Return the package's own query library (read once)."""
    return QueryLibrary()
