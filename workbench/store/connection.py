"""``connect()``: the one way to get a store, chosen by the environment."""

from __future__ import annotations

import os

from workbench.config import settings
from workbench.store.base import Store
from workbench.store.embedded import EmbeddedStore
from workbench.store.schema import apply_schema
from workbench.store.server import ServerStore

_SCHEMA_APPLIED: set[str] = set()  # folders and databases whose schema this process applied


def connect(data_dir: str | None = None, ensure_schema: bool = True) -> Store:
    """Return the configured store.

    With ``WB_CLICKHOUSE_URL`` set, a clickhouse-connect client for that server (password from
    ``WB_CLICKHOUSE_PASSWORD``); otherwise the embedded chDB store under ``WB_DATA_DIR``
    (default ``./.warehouse``, database ``WB_DATABASE`` or ``default``), whose schema is
    applied on first use.

    Parameters
    ----------
    data_dir : str, optional
        Embedded store folder; overrides ``WB_DATA_DIR``.
    ensure_schema : bool, default True
        Create missing tables of the embedded store (servers are initialised with
        ``wb db init``).

    Returns
    -------
    Store
        An :class:`EmbeddedStore` or a :class:`ServerStore`.

    Raises
    ------
    ConfigError
        When a ``WB_*`` variable is malformed.
    ConnectionFailed, AuthenticationFailed
        When the server cannot be reached or refuses the login.
    """
    cfg = settings()
    if cfg.clickhouse_url and data_dir is None:
        return ServerStore(
            cfg.clickhouse_url,
            password=os.environ.get("WB_CLICKHOUSE_PASSWORD", ""),
            user=cfg.clickhouse_user,
            timeout_s=cfg.query_timeout_s,
            retries=cfg.connect_retries,
            cluster=cfg.clickhouse_cluster,
        )
    store = EmbeddedStore(
        data_dir or cfg.data_dir, database=cfg.database, timeout_s=cfg.query_timeout_s
    )
    key = f"{store.path}:{store.database}"
    if ensure_schema and key not in _SCHEMA_APPLIED:
        apply_schema(store)
        _SCHEMA_APPLIED.add(key)
    return store
