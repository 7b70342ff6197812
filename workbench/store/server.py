"""The server store: a ClickHouse server or cluster reached over HTTP with clickhouse-connect.

Configured by ``WB_CLICKHOUSE_URL`` (``http[s]://user@host:port/database``), with the
password only ever taken from ``WB_CLICKHOUSE_PASSWORD``. Compression is on; connection
errors are retried with exponential backoff; every query carries a time limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import clickhouse_connect
import pyarrow as pa
from clickhouse_connect.driver.exceptions import ClickHouseError, DatabaseError, OperationalError
from urllib3.exceptions import HTTPError

from workbench.errors import (
    AuthenticationFailed,
    ConfigError,
    ConnectionFailed,
    QueryError,
    StoreError,
)
from workbench.store.base import ArrowStream, Store
from workbench.store.embedded import query_error
from workbench.store.identifiers import check_identifier

T = TypeVar("T")
_AUTH_CODES = (516, 192, 194)  # AUTHENTICATION_FAILED, UNKNOWN_USER, REQUIRED_PASSWORD
# Errors raised before a request reached the server: safe to retry for any statement.
_NOT_SENT = (
    "connection refused",
    "failed to establish",
    "name or service not known",
    "temporary failure in name resolution",
    "max retries exceeded",
)
# Errors that may come after the server started work: retried for reads only, since an
# insert or command may already have taken effect.
_LOST = (*_NOT_SENT, "connection aborted", "connection reset", "remote end closed", "timed out")


def parse_url(url: str) -> dict[str, Any]:
    """Split a ``WB_CLICKHOUSE_URL`` into clickhouse-connect arguments.

    Parameters
    ----------
    url : str
        ``http://[user@]host[:port][/database]`` or ``https://...``.

    Returns
    -------
    dict
        ``host``, ``port``, ``username``, ``database``, ``secure``.

    Raises
    ------
    ConfigError
        When the URL is malformed or carries a password.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ConfigError(f"WB_CLICKHOUSE_URL must start with http:// or https://, got {url!r}")
    if parts.password is not None:
        raise ConfigError(
            "WB_CLICKHOUSE_URL must not contain a password: put it in WB_CLICKHOUSE_PASSWORD"
        )
    if not parts.hostname:
        raise ConfigError(f"WB_CLICKHOUSE_URL has no host: {url!r}")
    try:
        port = parts.port or (8443 if parts.scheme == "https" else 8123)
    except ValueError:
        raise ConfigError(f"WB_CLICKHOUSE_URL has a bad port: {url!r}") from None
    database = parts.path.strip("/") or None
    return {
        "host": parts.hostname,
        "port": port,
        "username": unquote(parts.username) if parts.username else "default",
        "database": database,
        "secure": parts.scheme == "https",
    }


def _is_connect_error(exc: BaseException, markers: tuple[str, ...]) -> bool:
    text = str(exc).lower()
    return isinstance(exc, OperationalError) and any(m in text for m in markers)


class ServerStore(Store):
    """A ClickHouse server reached with clickhouse-connect.

    Parameters
    ----------
    url : str
        Server URL (see :func:`parse_url`).
    password : str
        The password (from ``WB_CLICKHOUSE_PASSWORD``).
    user : str, optional
        Overrides the user named in the URL.
    timeout_s : float, default 300
        Per-query time limit, sent as ``max_execution_time``.
    retries : int, default 4
        Attempts on connection errors; waits 0.5 s, 1 s, 2 s ... between them.
    cluster : str, optional
        The cluster of ``wb db init --cluster``: mutations go to its ``<table>_local``
        tables (:meth:`~workbench.store.base.Store.mutate`).
    """

    backend = "server"

    def __init__(
        self,
        url: str,
        password: str = "",
        user: str | None = None,
        timeout_s: float = 300.0,
        retries: int = 4,
        cluster: str | None = None,
    ) -> None:
        super().__init__()
        self.cluster = check_identifier(cluster) if cluster else None
        args = parse_url(url)
        if user:
            args["username"] = user
        self._where = (
            f"ClickHouse server {args['host']}:{args['port']} as user {args['username']!r}"
        )
        self.timeout_s = timeout_s
        self.retries = max(1, int(retries))
        self._client = self._with_retries(
            lambda: clickhouse_connect.get_client(
                **args,
                password=password,
                compress=True,
                connect_timeout=min(10.0, timeout_s),
                send_receive_timeout=timeout_s + 30,
                settings={"max_execution_time": int(timeout_s)},
                autogenerate_session_id=False,
            )
        )

    def describe(self) -> str:
        """Say where this store lives (never the password)."""
        return self._where

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def _with_retries(self, call: Callable[[], T], markers: tuple[str, ...] = _LOST) -> T:
        delay = 0.5
        for attempt in range(1, self.retries + 1):
            try:
                return call()
            except ClickHouseError as exc:
                if _is_connect_error(exc, markers):
                    if attempt == self.retries:
                        raise ConnectionFailed(
                            f"cannot reach {self._where} after {self.retries} attempts "
                            f"(check WB_CLICKHOUSE_URL): {str(exc).splitlines()[0][:200]}"
                        ) from None
                    time.sleep(delay)
                    delay *= 2
                    continue
                raise self._error(exc) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _error(self, exc: BaseException) -> StoreError:
        err = query_error(exc)
        if err.code in _AUTH_CODES:
            return AuthenticationFailed(
                f"{self._where} refused the login (check WB_CLICKHOUSE_USER / the URL's user "
                "and WB_CLICKHOUSE_PASSWORD)"
            )
        return err

    def _settings(self, settings: Mapping | None) -> dict[str, Any] | None:
        return dict(settings) if settings else None

    def _query_arrow(self, sql: str, parameters: dict, settings: Mapping | None) -> pa.Table:
        return self._with_retries(
            lambda: self._client.query_arrow(
                sql, parameters=parameters, settings=self._settings(settings), use_strings=True
            )
        )

    def _stream(
        self, sql: str, parameters: dict, settings: Mapping | None, batch_rows: int
    ) -> ArrowStream:
        merged = dict(settings or {})
        merged.setdefault("max_block_size", batch_rows)
        context = self._with_retries(
            lambda: self._client.query_arrow_stream(
                sql, parameters=parameters, settings=merged, use_strings=True
            )
        )

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                with context as stream:
                    for item in stream:
                        if isinstance(item, pa.Table):
                            yield from item.to_batches()
                        else:
                            yield item
            except (DatabaseError, ClickHouseError) as exc:
                raise self._error(exc) from None
            except (HTTPError, pa.ArrowInvalid) as exc:
                # an error after the first rows arrives as a cut HTTP stream (urllib3
                # ProtocolError) or an Arrow stream pyarrow cannot finish
                raise QueryError(f"ClickHouse stream from {self._where} failed: {exc}") from None

        return ArrowStream(batches(), close=context.source.close)

    def _insert_arrow(self, table: str, data: pa.Table) -> None:
        def insert() -> None:
            self._client.insert_arrow(table, data)

        self._with_retries(insert, _NOT_SENT)

    def _command(self, sql: str, parameters: dict, settings: Mapping | None) -> Any:
        result = self._with_retries(
            lambda: self._client.command(
                sql, parameters=parameters or None, settings=self._settings(settings)
            ),
            _NOT_SENT,
        )
        if isinstance(result, str | int | float) or result is None:
            return result or None
        if isinstance(result, list | tuple):
            return "\t".join(map(str, result))
        return None
