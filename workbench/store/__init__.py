"""ClickHouse access: ``connect()``, the embedded and server backends, queries and schema."""

from workbench.store.base import ArrowStream, Store
from workbench.store.connection import connect
from workbench.store.embedded import EmbeddedStore
from workbench.store.identifiers import check_identifier
from workbench.store.library import NamedQuery, QueryLibrary, default_library
from workbench.store.schema import apply_schema, ddl_statements
from workbench.store.server import ServerStore

__all__ = [
    "ArrowStream",
    "EmbeddedStore",
    "NamedQuery",
    "QueryLibrary",
    "ServerStore",
    "Store",
    "apply_schema",
    "check_identifier",
    "connect",
    "ddl_statements",
    "default_library",
]
