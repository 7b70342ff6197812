"""Feature definitions, entity-window SQL and request text encoding."""

from workbench.features.entity import (
    build_entity_features,
    entity_features_sql,
    stream_entity_features,
    write_entity_features,
)
from workbench.features.registry import (
    ENTITY_KINDS,
    FEATURES,
    EntityKind,
    Feature,
    features_for,
    resolve_entity,
)
from workbench.features.series import entity_series
from workbench.features.splits import (
    group_ids,
    split_by_group,
    split_by_time,
    split_by_time_and_group,
)
from workbench.features.text import (
    DEFAULT_HEADERS,
    DEFAULT_MAX_LEN,
    PAD_ID,
    VOCAB_SIZE,
    TextEncoder,
    decode_ids,
    encode_requests,
    encode_texts,
    normalize,
    request_texts,
)

__all__ = [
    "ENTITY_KINDS",
    "FEATURES",
    "EntityKind",
    "Feature",
    "build_entity_features",
    "entity_features_sql",
    "entity_series",
    "features_for",
    "group_ids",
    "resolve_entity",
    "split_by_group",
    "split_by_time",
    "split_by_time_and_group",
    "stream_entity_features",
    "write_entity_features",
    "DEFAULT_HEADERS",
    "DEFAULT_MAX_LEN",
    "PAD_ID",
    "VOCAB_SIZE",
    "TextEncoder",
    "decode_ids",
    "encode_requests",
    "encode_texts",
    "normalize",
    "request_texts",
]
