"""The ``Store`` interface shared by the embedded (chDB) and server (clickhouse-connect) backends.

A backend implements four primitives (Arrow query, Arrow batch stream, Arrow insert,
command); everything users call is built on them here, so both backends behave alike:
the same method names as clickhouse-connect, the same parameter binding, the same errors.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from typing import Any

import pandas as pd
import pyarrow as pa

from workbench.errors import InputError, StoreError
from workbench.store.identifiers import check_identifier
from workbench.store.library import QueryLibrary, default_library
from workbench.store.params import normalize_parameters
from workbench.store.schema import mutation_target

#: Rows per record batch for streams, unless the caller asks otherwise.
STREAM_BATCH_ROWS = 65_536


class ArrowStream:
    """Context manager over a stream of ``pyarrow.RecordBatch`` objects.

    Iterate inside a ``with`` block; leaving the block early cancels the query.
    """

    def __init__(self, batches: Iterator[pa.RecordBatch], close: Any = None) -> None:
        self._batches = batches
        self._close = close

    def __enter__(self) -> ArrowStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return self._batches

    def __del__(self) -> None:
        self.close()

    def close(self) -> None:
        """Stop the stream and release the query."""
        if self._close is not None:
            close, self._close = self._close, None
            close()


class Store(ABC):
    """A ClickHouse database, embedded or remote, behind one interface.

    Values are always bound as server-side parameters: write ``{name:Type}`` placeholders
    in the SQL and pass ``parameters={"name": value}``.
    """

    #: ``"embedded"`` or ``"server"``.
    backend: str = ""
    #: The cluster whose replicated ``<table>_local`` tables hold the data (servers only).
    cluster: str | None = None

    def __init__(self, library: QueryLibrary | None = None) -> None:
        self.library = library or default_library()
        self._columns: dict[str, list[tuple[str, str]]] = {}
        self._columns_lock = threading.Lock()

    # -- primitives each backend provides -------------------------------------------------
    @abstractmethod
    def _query_arrow(self, sql: str, parameters: dict, settings: Mapping | None) -> pa.Table:
        """Run a query and return the whole result."""

    @abstractmethod
    def _stream(
        self, sql: str, parameters: dict, settings: Mapping | None, batch_rows: int
    ) -> ArrowStream:
        """Run a query and return its result as a stream of record batches."""

    @abstractmethod
    def _insert_arrow(self, table: str, data: pa.Table) -> None:
        """Insert an Arrow table whose columns all exist in ``table``."""

    @abstractmethod
    def _command(self, sql: str, parameters: dict, settings: Mapping | None) -> Any:
        """Run a statement that returns no rows (or a single value)."""

    @abstractmethod
    def describe(self) -> str:
        """Say where this store lives, for messages (never includes a password)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the connection."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public API -----------------------------------------------------------------------
    def query_arrow(
        self,
        query: str,
        parameters: Mapping[str, Any] | None = None,
        settings: Mapping | None = None,
    ) -> pa.Table:
        """Run a query and return the result as a ``pyarrow.Table``.

        Parameters
        ----------
        query : str
            SQL with ``{name:Type}`` placeholders.
        parameters : mapping, optional
            Values for the placeholders, bound server-side.
        settings : mapping, optional
            ClickHouse settings for this query only.

        Returns
        -------
        pyarrow.Table
            The result.
        """
        return self._query_arrow(query, normalize_parameters(parameters), settings)

    def query_df(
        self,
        query: str,
        parameters: Mapping[str, Any] | None = None,
        settings: Mapping | None = None,
    ) -> pd.DataFrame:
        """Run a query and return the result as a pandas ``DataFrame``.

        Parameters
        ----------
        query : str
            SQL with ``{name:Type}`` placeholders.
        parameters : mapping, optional
            Values for the placeholders, bound server-side.
        settings : mapping, optional
            ClickHouse settings for this query only.

        Returns
        -------
        pandas.DataFrame
            The result; identical dtypes on both backends (converted from Arrow).
        """
        return self.query_arrow(query, parameters, settings).to_pandas()

    def query_arrow_stream(
        self,
        query: str,
        parameters: Mapping[str, Any] | None = None,
        settings: Mapping | None = None,
        batch_rows: int = STREAM_BATCH_ROWS,
    ) -> ArrowStream:
        """Run a query and stream the result as Arrow record batches with bounded memory.

        Parameters
        ----------
        query : str
            SQL with ``{name:Type}`` placeholders.
        parameters : mapping, optional
            Values for the placeholders, bound server-side.
        settings : mapping, optional
            ClickHouse settings for this query only.
        batch_rows : int, default 65536
            Rows per batch asked of the engine (the engine may send smaller blocks).

        Returns
        -------
        ArrowStream
            Use as ``with store.query_arrow_stream(q) as batches: for rb in batches: ...``.
        """
        if batch_rows <= 0:
            raise InputError(f"batch_rows must be positive, got {batch_rows}")
        return self._stream(query, normalize_parameters(parameters), settings, batch_rows)

    def command(
        self, cmd: str, parameters: Mapping[str, Any] | None = None, settings: Mapping | None = None
    ) -> Any:
        """Run a statement (DDL, ``INSERT ... SELECT``, ``ALTER`` ...).

        Parameters
        ----------
        cmd : str
            SQL with ``{name:Type}`` placeholders.
        parameters : mapping, optional
            Values for the placeholders, bound server-side.
        settings : mapping, optional
            ClickHouse settings for this statement only.

        Returns
        -------
        Any
            What the engine returned, if anything.
        """
        return self._command(cmd, normalize_parameters(parameters), settings)

    def mutate(
        self,
        table: str,
        action: str,
        parameters: Mapping[str, Any] | None = None,
        settings: Mapping | None = None,
    ) -> Any:
        """Run ``ALTER TABLE <table> DELETE|UPDATE ...`` where the table's rows are stored.

        On a cluster (:attr:`cluster`, from ``WB_CLICKHOUSE_CLUSTER``) the rows live in the
        replicated ``<table>_local`` tables behind a Distributed table, which cannot be
        mutated: the statement goes to ``<table>_local ON CLUSTER <cluster>``.

        Parameters
        ----------
        table : str
            The table as the workbench names it (checked against the identifier pattern).
        action : str
            The mutation, e.g. ``DELETE WHERE Source = {source:String}``.
        parameters, settings : mapping, optional
            As for :meth:`command`.

        Returns
        -------
        Any
            What the engine returned, if anything.
        """
        return self.command(f"ALTER TABLE {mutation_target(table, self.cluster)} {action}",
                            parameters, settings)  # fmt: skip

    def insert_arrow(self, table: str, arrow_table: pa.Table) -> int:
        """Insert an Arrow table, matching columns by name.

        Columns of ``table`` that ``arrow_table`` lacks take their defaults.

        Parameters
        ----------
        table : str
            Target table name (checked against the identifier pattern).
        arrow_table : pyarrow.Table
            Rows to insert.

        Returns
        -------
        int
            The number of rows inserted.

        Raises
        ------
        InputError
            When ``arrow_table`` has columns the table does not have, or missing values
            (nulls) in a column that is not ``Nullable``.
        """
        check_identifier(table)
        known = dict(self.columns(table))
        extra = [c for c in arrow_table.column_names if c not in known]
        if extra:
            raise InputError(f"table {table} has no column(s) {', '.join(map(repr, extra))}")
        for name in arrow_table.column_names:
            check_identifier(name)
            missing = arrow_table.column(name).null_count
            ch_type = known[name]
            if missing and not ch_type.replace("LowCardinality(", "").startswith("Nullable("):
                # ClickHouse would store the type's default (0, '') in their place: refuse
                # rather than turn missing values into real-looking ones
                raise InputError(
                    f"column {name} of table {table} ({ch_type}) cannot hold missing values, "
                    f"and {missing} of {arrow_table.num_rows} are missing (NaN/None)"
                )
        if arrow_table.num_rows:
            self._insert_arrow(table, arrow_table)
        return arrow_table.num_rows

    def insert_df(self, table: str, df: pd.DataFrame) -> int:
        """Insert a pandas ``DataFrame``, matching columns by name.

        ``Map`` columns may hold dicts; columns the frame lacks take their defaults.

        Parameters
        ----------
        table : str
            Target table name.
        df : pandas.DataFrame
            Rows to insert.

        Returns
        -------
        int
            The number of rows inserted.
        """
        types = dict(self.columns(check_identifier(table)))
        arrays, names = [], []
        for name in df.columns:
            column = df[name]
            ch_type = types.get(str(name), "")
            if ch_type.startswith("Map(") and column.dtype == object:
                arrays.append(_map_array(column, ch_type))
            else:
                arrays.append(pa.array(column, from_pandas=True))
            names.append(str(name))
        return self.insert_arrow(table, pa.Table.from_arrays(arrays, names=names))

    def columns(self, table: str) -> list[tuple[str, str]]:
        """Return ``(name, ClickHouse type)`` for each column of ``table``.

        Parameters
        ----------
        table : str
            Table name.

        Returns
        -------
        list of tuple
            Column names and types in table order.
        """
        check_identifier(table)
        with self._columns_lock:
            if table not in self._columns:
                described = self.query_arrow(
                    "SELECT name, type FROM system.columns "
                    "WHERE database = currentDatabase() AND table = {t:String} ORDER BY position",
                    {"t": table},
                )
                if described.num_rows == 0:
                    raise StoreError(f"table {table} does not exist in {self.describe()}")
                self._columns[table] = list(
                    zip(described["name"].to_pylist(), described["type"].to_pylist(), strict=True)
                )
            return list(self._columns[table])

    def forget_columns(self) -> None:
        """Drop cached table layouts (after DDL changes)."""
        with self._columns_lock:
            self._columns.clear()

    def run(self, name: str, **params: Any) -> pd.DataFrame:
        """Run a named query from the library and return a ``DataFrame``.

        Parameters
        ----------
        name : str
            Query name, as ``wb query list`` shows it.
        **params
            Values for its parameters; missing ones take the defaults in its header.

        Returns
        -------
        pandas.DataFrame
            The result.

        Raises
        ------
        UnknownQuery
            When no query has that name.
        MissingParameter
            When a parameter without default is not given.
        """
        sql, bound = self.library.get(name).bind(params)
        return self.query_df(sql, bound)

    def run_arrow(self, name: str, **params: Any) -> pa.Table:
        """Run a named query and return a ``pyarrow.Table`` (see :meth:`run`)."""
        sql, bound = self.library.get(name).bind(params)
        return self.query_arrow(sql, bound)


def _map_array(column: pd.Series, ch_type: str) -> pa.Array:
    value_type = pa.float64() if "Float" in ch_type.split(",", 1)[-1] else pa.string()
    items = [list(v.items()) if isinstance(v, dict) else v for v in column]
    return pa.array(items, type=pa.map_(pa.string(), value_type))
