"""Labelled synthetic data: HTTP traffic (humans, good bots, bad bots) and auth events."""

from workbench.synth.auth import (
    INCIDENT_TYPES,
    generate_auth_events,
    generate_auth_users,
    incident_counts,
    summarize_incidents,
    write_auth_events,
)
from workbench.synth.campaigns import DEFAULT_MIX, FAMILIES, LABELS
from workbench.synth.payloads import ATTACK_CLASSES, generate_payloads
from workbench.synth.traffic import DEFAULT_START, generate_traffic, parse_start, write_traffic

__all__ = [
    "ATTACK_CLASSES",
    "DEFAULT_MIX",
    "DEFAULT_START",
    "FAMILIES",
    "INCIDENT_TYPES",
    "LABELS",
    "generate_auth_events",
    "generate_auth_users",
    "generate_payloads",
    "generate_traffic",
    "incident_counts",
    "parse_start",
    "summarize_incidents",
    "write_auth_events",
    "write_traffic",
]
