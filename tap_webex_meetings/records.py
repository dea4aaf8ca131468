"""What leaves the tap as Singer messages: records in UTC, secret fields only on consent,
one SCHEMA per stream, ACTIVATE_VERSION after a full extract.

:class:`RecordStream` holds the singer-sdk hooks about output; how records are fetched is
client.py's. Meltano's default ``select`` (``*.*``) is no consent: a field of
:data:`webex.SENSITIVE_FIELDS` is selected only when the ``secret_fields`` setting names it.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Mapping
from datetime import datetime, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol, cast
from urllib.parse import ParseResult

from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.singerlib import Catalog, MetadataMapping, RecordMessage
from singer_sdk.streams.rest import RESTStream
from typing_extensions import override

from tap_webex_meetings import stream_maps, timeutils, webex
from tap_webex_meetings.settings import list_from_text

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_webex_meetings.settings import Settings


class OutputTap(Protocol):
    """What the output needs of the tap (client.py's ``WebexTap`` is the whole of it)."""

    settings: Settings
    table_version: int | None


class RecordStream(RESTStream[ParseResult | None]):
    """The output side of every stream."""

    # Webex records are JSON already: the SDK's per-value conformance only costs time (half
    # the tap's CPU). Unknown top-level fields are dropped in post_process instead.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._schema_written = False
        self._known_fields = frozenset(self.schema["properties"])
        # Webex's date-times (start, end), rendered in the timezone header's offset.
        self._moments = tuple(
            name
            for name, spec in self.schema["properties"].items()
            if spec.get("format") == "date-time" and not name.startswith("_sdc_")
        )
        self._unknown_fields_seen: set[str] = set()

    @property
    def webex_tap(self) -> OutputTap:
        """The tap, seen through what the output needs of it."""
        # private singer-sdk attribute: 0.54 gives a stream no public way to its tap.
        return cast("OutputTap", self._tap)

    @property
    def settings(self) -> Settings:
        """Validated settings of this run."""
        return self.webex_tap.settings

    @override
    def log(self, message: str, *args: Any, level: int = logging.INFO, **kwargs: Any) -> None:
        """The SDK's own ERROR lines (through ``Stream.log``) go to DEBUG.

        singer-sdk 0.54 logs only "An unhandled error occurred ..." there, once per stream
        level, without the reason: ``tap.py`` prints that as the one ERROR line.
        """
        level = logging.DEBUG if level >= logging.ERROR else level
        super().log(message, *args, level=level, **kwargs)

    @property
    @override
    def metadata(self) -> MetadataMapping:
        """Passwords and the host key stay out unless ``secret_fields`` names them."""
        metadata = super().metadata
        restrict(metadata, self.config)
        return metadata

    @override
    def post_process(self, row: dict[str, Any], context: Context | None = None) -> dict[str, Any]:
        """Date-times in UTC; drop fields the schema does not know.

        UTC whatever ``timezone`` is: several loaders store ``-05:00`` as local time. A new
        Webex field is said once per run at INFO: nobody can change what Webex sends.
        """
        for name in self._moments:
            value = row.get(name)
            if isinstance(value, str) and not value.endswith("Z"):
                row[name] = timeutils.utc_text(value)
        if row.keys() <= self._known_fields:
            return row
        unknown = row.keys() - self._known_fields
        if new := unknown - self._unknown_fields_seen:
            self._unknown_fields_seen |= new
            self.logger.info("Ignoring fields not in the %s schema: %s", self.name, sorted(new))
        return {key: value for key, value in row.items() if key not in unknown}

    @cached_property
    def _deselected_fields(self) -> tuple[str, ...] | None:
        """Top-level fields the catalog deselects; None if it deselects nested ones too."""
        deselected: list[str] = []
        for breadcrumb, selected in self.mask.items():
            if selected or not breadcrumb:
                continue
            if len(breadcrumb) != 2:  # not ("properties", name)
                return None
            deselected.append(breadcrumb[1])
        return tuple(deselected)

    @override  # private singer-sdk hook (no upstream issue yet): the per-record walk is inside
    def _generate_record_messages(
        self, record: dict[str, Any]
    ) -> Generator[RecordMessage, None, None]:
        """The SDK's RECORD messages, without its walk through every nested object.

        singer-sdk visits every nested object of every record to remove deselected fields
        (2 of 7 s on 20,000 records); popping top-level ones (the passwords) is the same.
        """
        deselected = self._deselected_fields
        if deselected is None:
            try:
                yield from super()._generate_record_messages(record)
            except Exception as exc:  # only the maps run in there
                raise stream_maps.failure(self.name, record, exc) from exc
            return
        for name in deselected:
            record.pop(name, None)
        for stream_map in self.stream_maps:
            try:
                mapped = stream_map.transform(record)
            except Exception as exc:  # a user's expression: anything (see stream_maps.py)
                raise stream_maps.failure(stream_map.stream_alias, record, exc) from exc
            if mapped is not None:
                yield RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=self._stream_version,  # private, read as the SDK itself does
                    time_extracted=datetime.now(timezone.utc),
                )

    @override
    def _write_schema_message(self) -> None:  # private singer-sdk hook (no upstream issue yet)
        """Once per run (the SDK repeats the 30 KB schema per series), and where records get
        their table version: the tap's for a full extract (see history.py), else none."""
        if not self._schema_written:
            self._stream_version = self.webex_tap.table_version  # private: on each RECORD
            super()._write_schema_message()
            self._schema_written = True

    @override
    def finalize_state_progress_markers(self, state: dict[str, Any] | None = None) -> None:
        """After a full extract, ACTIVATE_VERSION once every record is out.

        A run that fails midway deletes nothing. A stream that found nothing sends its
        SCHEMA first, or the rows of what was deleted since the last run would stay.
        """
        super().finalize_state_progress_markers(state)
        if self.selected and self.webex_tap.table_version is not None:
            self._write_schema_message()  # once per run: a no-op if records were sent
            self._write_activate_version_message(self.webex_tap.table_version)  # private


def named_secret_fields(config: Mapping[str, Any]) -> frozenset[str]:
    """The fields ``secret_fields`` names: a list, or its text (``a,b`` or JSON) from Meltano."""
    value = config.get("secret_fields") or []
    if isinstance(value, str):
        value = list_from_text(value)
    if not isinstance(value, list):
        return frozenset()
    return frozenset(name for name in value if isinstance(name, str))


def restrict(metadata: MetadataMapping, config: Mapping[str, Any]) -> None:
    """Deselect every secret field the setting does not name; only named ones by default."""
    allowed = named_secret_fields(config)
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
