"""The fields that let a reader join or start a meeting as host, and who may emit them.

Meltano's default ``select`` (``*.*``) selects every property, so a catalog alone is no
consent: a field of :data:`webex.SENSITIVE_FIELDS` reaches a record (and its SCHEMA) only
when the ``secret_fields`` setting names it, and the catalog selects it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from singer_sdk.singerlib import Catalog, MetadataMapping

from tap_webex_meetings import webex
from tap_webex_meetings.config_checks import list_from_text


def named(config: Mapping[str, Any]) -> frozenset[str]:
    """The fields ``secret_fields`` names: a list, or its text (``a,b`` or JSON) from Meltano."""
    value = config.get("secret_fields") or []
    if isinstance(value, str):
        value = list_from_text(value)
    if not isinstance(value, list):
        return frozenset()
    return frozenset(name for name in value if isinstance(name, str))


def restrict(metadata: MetadataMapping, config: Mapping[str, Any]) -> None:
    """Deselect every secret field the setting does not name; only named ones by default."""
    allowed = named(config)
    for field in webex.SENSITIVE_FIELDS:
        entry = metadata.get(("properties", field))
        if entry is None:
            continue
        entry.selected_by_default = field in allowed
        if field not in allowed:
            entry.selected = False


def restrict_catalog(catalog: Catalog, config: Mapping[str, Any]) -> None:
    """:func:`restrict` for every stream of a catalog given to the tap."""
    for entry in catalog.streams:
        restrict(entry.metadata, config)
