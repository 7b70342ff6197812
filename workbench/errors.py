"""Typed exceptions shared by every part of the workbench.

Each error carries a message written for a person: what went wrong and what to do about it.
The ``wb`` command prints that one line and exits non-zero; Python callers catch the type.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base class of every error the workbench raises on purpose."""

    exit_code: int = 1


class ConfigError(WorkbenchError):
    """A setting is missing or malformed (for example a ``WB_*`` environment variable)."""

    exit_code = 2


class StoreError(WorkbenchError):
    """The ClickHouse store could not do what was asked."""

    exit_code = 3


class ConnectionFailed(StoreError):
    """The ClickHouse server could not be reached after retries."""


class AuthenticationFailed(StoreError):
    """The ClickHouse server refused the user name or password."""


class QueryError(StoreError):
    """ClickHouse rejected a query (syntax error, unknown column, bad parameter value...)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class QueryTimeout(QueryError):
    """A query ran past its time limit."""


class UnknownQuery(StoreError):
    """A named query does not exist in the library."""


class MissingParameter(StoreError):
    """A named query was run without a value for one of its parameters."""


class InvalidIdentifier(StoreError):
    """A table or column name failed the strict identifier check."""


class InputError(WorkbenchError):
    """Input data or an argument is malformed; the message names what and where."""

    exit_code = 4


class ModelIntegrityError(WorkbenchError):
    """A saved model folder is incomplete or a file changed since it was saved (hash check)."""

    exit_code = 5


class ReportError(WorkbenchError):
    """A report could not be run: unknown template, failed run, or a lock held too long."""

    exit_code = 6
