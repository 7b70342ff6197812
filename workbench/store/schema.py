"""Table DDL: read from ``schema/*.sql``, applied idempotently, or rewritten for a cluster.

The files hold plain single-node DDL (``CREATE TABLE IF NOT EXISTS ... ENGINE = MergeTree``).
With a cluster name, each table becomes a replicated ``<name>_local`` table on every node,
created ``ON CLUSTER``, with a ``Distributed`` table of the original name in front, sharded
by the key given in the file's ``-- shard by:`` line (``rand()`` when there is none).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import ConfigError
from workbench.store.identifiers import check_identifier

SCHEMA_DIR = Path(__file__).resolve().parent / "schema"
_CREATE = re.compile(r"CREATE TABLE IF NOT EXISTS\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(", re.I)
_ENGINE = re.compile(r"ENGINE\s*=\s*MergeTree(\(\))?", re.I)
_SHARD = re.compile(r"^--\s*shard by:\s*(.+)$", re.M)
_COLUMN = re.compile(r"^\s+([A-Za-z_][A-Za-z0-9_]*)\s+(.+?),?\s*$")


@dataclass(frozen=True)
class TableDDL:
    """The DDL of one table as written in ``schema/``.

    Attributes
    ----------
    name : str
        Table name.
    sql : str
        ``CREATE TABLE IF NOT EXISTS`` statement for a single node.
    shard_key : str
        Sharding expression for a Distributed table.
    """

    name: str
    sql: str
    shard_key: str


def load_tables(schema_dir: Path = SCHEMA_DIR) -> list[TableDDL]:
    """Read every table's DDL, in file-name order.

    Parameters
    ----------
    schema_dir : Path, optional
        Folder of ``*.sql`` files.

    Returns
    -------
    list of TableDDL
        One entry per file.
    """
    tables = []
    for path in sorted(schema_dir.glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        match = _CREATE.search(text)
        if not match or not _ENGINE.search(text):
            raise ConfigError(f"{path}: expected CREATE TABLE IF NOT EXISTS ... ENGINE = MergeTree")
        shard = _SHARD.search(text)
        tables.append(
            TableDDL(match.group(1), text.strip(), shard.group(1).strip() if shard else "rand()")
        )
    return tables


def ddl_statements(cluster: str | None = None, schema_dir: Path = SCHEMA_DIR) -> list[str]:
    """Return the statements that create every table.

    Parameters
    ----------
    cluster : str, optional
        Cluster name (``WB_CLICKHOUSE_CLUSTER``); when given, replicated local tables and
        Distributed tables are created ``ON CLUSTER``.
    schema_dir : Path, optional
        Folder of ``*.sql`` files.

    Returns
    -------
    list of str
        Statements, safe to run again (all ``IF NOT EXISTS``).
    """
    tables = load_tables(schema_dir)
    if not cluster:
        return [t.sql for t in tables]
    check_identifier(cluster)
    statements = []
    for t in tables:
        local = f"{t.name}_local"
        engine = (
            f"ENGINE = ReplicatedMergeTree('/clickhouse/tables/{{shard}}/{{database}}/{local}', "
            "'{replica}')"
        )
        statements.append(
            _ENGINE.sub(
                engine,
                _CREATE.sub(
                    f"CREATE TABLE IF NOT EXISTS {local} ON CLUSTER {cluster}\n(", t.sql, count=1
                ),
                count=1,
            )
        )
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {t.name} ON CLUSTER {cluster} AS {local}\n"
            f"ENGINE = Distributed({cluster}, currentDatabase(), {local}, {t.shard_key})"
        )
    return statements


def mutation_target(table: str, cluster: str | None = None) -> str:
    """Return what an ``ALTER TABLE ... DELETE/UPDATE`` names for ``table``.

    Parameters
    ----------
    table : str
        The table as the workbench names it.
    cluster : str, optional
        The cluster name; its data lives in ``<table>_local`` on every node.

    Returns
    -------
    str
        ``table``, or ``<table>_local ON CLUSTER <cluster>``.

    Raises
    ------
    InvalidIdentifier
        When a name is not a plain identifier.
    """
    check_identifier(table)
    if not cluster:
        return table
    return f"{check_identifier(f'{table}_local')} ON CLUSTER {check_identifier(cluster)}"


def table_columns(ddl: TableDDL) -> list[tuple[str, str]]:
    """Return ``(name, type and default)`` of each column a table's DDL declares.

    Parameters
    ----------
    ddl : TableDDL
        One table's DDL.

    Returns
    -------
    list of tuple
        Column names and their declarations, in order.
    """
    body = ddl.sql[ddl.sql.index("(") + 1 : ddl.sql.index("\n)")]
    return [m.groups() for line in body.splitlines() if (m := _COLUMN.match(line))]


def apply_schema(store, cluster: str | None = None) -> list[str]:
    """Create every table that does not exist yet, and add columns a table lacks.

    Tables made by an older version of the workbench get the columns added since
    (``ADD COLUMN IF NOT EXISTS``), so an existing warehouse keeps working.

    Parameters
    ----------
    store : Store
        Where to create them.
    cluster : str, optional
        Cluster name; see :func:`ddl_statements`.

    Returns
    -------
    list of str
        Names of the tables the schema defines.
    """
    for statement in ddl_statements(cluster):
        store.command(statement)
    tables = load_tables()
    on_cluster = f" ON CLUSTER {cluster}" if cluster else ""
    for table in tables:
        names = [f"{table.name}_local", table.name] if cluster else [table.name]
        present = set(
            store.query_df(
                "SELECT name FROM system.columns WHERE database = currentDatabase() "
                "AND table = {t:String}",
                {"t": table.name},
            )["name"]
        )
        for column, declaration in table_columns(table):
            if column not in present:
                for name in names:
                    store.command(
                        f"ALTER TABLE {name}{on_cluster} ADD COLUMN IF NOT EXISTS "
                        f"{column} {declaration}"
                    )
    store.forget_columns()
    return [t.name for t in tables]
