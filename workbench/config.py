"""Settings from the environment (``WB_*`` variables) and the project's paths.

Nothing secret is ever read from a file: the ClickHouse password comes only from
``WB_CLICKHOUSE_PASSWORD``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent


@dataclass(frozen=True)
class Settings:
    """Resolved workbench settings.

    Attributes
    ----------
    data_dir : Path
        Where the embedded store keeps its data (``WB_DATA_DIR``, default ``./.warehouse``).
    database : str or None
        ``WB_DATABASE``: database of the embedded store (ClickHouse's ``default`` when unset);
        a server's database is the path of ``WB_CLICKHOUSE_URL``.
    clickhouse_url : str or None
        ``WB_CLICKHOUSE_URL``; when set, the store is a clickhouse-connect client.
    clickhouse_user : str or None
        ``WB_CLICKHOUSE_USER``; overrides a user given in the URL.
    clickhouse_cluster : str or None
        ``WB_CLICKHOUSE_CLUSTER``; DDL is emitted ``ON CLUSTER`` with replicated tables.
    query_timeout_s : float
        Per-query time limit in seconds (``WB_QUERY_TIMEOUT``, default 300).
    connect_retries : int
        Attempts on connection errors before giving up (``WB_CONNECT_RETRIES``, default 4).
    reports_dir : Path
        Where rendered reports go (``WB_REPORTS_DIR``, default ``./reports``).
    models_dir : Path
        Where trained models go (``WB_MODELS_DIR``, default ``./models``).
    """

    data_dir: Path
    database: str | None
    clickhouse_url: str | None
    clickhouse_user: str | None
    clickhouse_cluster: str | None
    query_timeout_s: float
    connect_retries: int
    reports_dir: Path
    models_dir: Path


def _number(name: str, default: float, kind: type = float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return kind(default)
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value <= 0:
        raise ConfigError(f"{name}={raw!r} must be positive")
    return value


def settings() -> Settings:
    """Read the settings from the environment, each time it is called.

    Returns
    -------
    Settings
        The resolved settings.

    Raises
    ------
    ConfigError
        When a numeric variable is not a positive number.
    """
    env = os.environ
    return Settings(
        data_dir=Path(env.get("WB_DATA_DIR") or ".warehouse").resolve(),
        database=env.get("WB_DATABASE") or None,
        clickhouse_url=env.get("WB_CLICKHOUSE_URL") or None,
        clickhouse_user=env.get("WB_CLICKHOUSE_USER") or None,
        clickhouse_cluster=env.get("WB_CLICKHOUSE_CLUSTER") or None,
        query_timeout_s=_number("WB_QUERY_TIMEOUT", 300.0),
        connect_retries=int(_number("WB_CONNECT_RETRIES", 4, int)),
        reports_dir=Path(env.get("WB_REPORTS_DIR") or "reports").resolve(),
        models_dir=Path(env.get("WB_MODELS_DIR") or "models").resolve(),
    )
