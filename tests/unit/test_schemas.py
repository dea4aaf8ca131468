"""The schema files agree with Webex's OpenAPI file, and ship inside the package."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tap_webex_meetings.tap import TapWebexMeetings
from tap_webex_meetings.webex import SENSITIVE_FIELDS

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = json.loads((ROOT / "tests/openapi/webex-meeting.openapi.json").read_text())
COMPONENTS = OPENAPI["components"]["schemas"]
ITEM = COMPONENTS["MeetingObjectForListMeeting"]
STREAMS = ("meeting_series", "series_meetings")
PARTICIPANTS = "meeting_participants"
NESTED_OBJECTS = (
    "telephony",
    "meetingOptions",
    "attendeePrivileges",
    "registration",
    "simultaneousInterpretation",
    "audioConnectionOptions",
    "liveStream",
    "links",
    "trackingCodes",
    "integrationTags",
)


def _deref(node: dict[str, Any]) -> dict[str, Any]:
    return COMPONENTS[node["$ref"].rsplit("/", 1)[-1]] if "$ref" in node else node


def _types(node: dict[str, Any]) -> set[str]:
    declared = node["type"]
    return {declared} if isinstance(declared, str) else set(declared)


def _differences(api: dict[str, Any], ours: dict[str, Any], path: str) -> list[str]:
    """Every way our schema node fails to describe what the API node allows."""
    api = _deref(api)
    found: list[str] = []
    if api["type"] not in _types(ours):
        found.append(f"{path}: API type {api['type']}, schema {ours['type']}")
    if api["type"] == "object":
        api_props, our_props = api.get("properties", {}), ours.get("properties", {})
        found += [f"{path}.{name}: missing" for name in api_props.keys() - our_props.keys()]
        found += [f"{path}.{name}: not in the API" for name in our_props.keys() - api_props.keys()]
        for name in api_props.keys() & our_props.keys():
            found += _differences(api_props[name], our_props[name], f"{path}.{name}")
    if api["type"] == "array":
        found += _differences(api["items"], ours["items"], f"{path}[]")
    return found


@pytest.fixture(params=STREAMS)
def schema(request: pytest.FixtureRequest) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ROOT / "schemas" / f"{request.param}.json").read_text())
    return loaded


# Declared by other items of the same OpenAPI file (scripts/generate_schemas.py).
EXTRA = {"hasSummary": "MeetingObjectForAdminListMeeting"}


def webex_part(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema of the OpenAPI item: without the Singer deletion marker, which is ours, and
    the extras, checked against the item that declares them."""
    ours = {"_sdc_deleted_at", *EXTRA}
    properties = {k: v for k, v in schema["properties"].items() if k not in ours}
    return {**schema, "properties": properties}


def test_deletion_marker_is_a_nullable_date_time(schema: dict[str, Any]) -> None:
    marker = schema["properties"]["_sdc_deleted_at"]
    assert set(marker["type"]) == {"string", "null"}
    assert marker["format"] == "date-time"


def test_schema_covers_every_property_of_the_openapi_item(schema: dict[str, Any]) -> None:
    assert len(ITEM["properties"]) == 71
    assert _differences(ITEM, webex_part(schema), "meeting") == []


def test_fields_webex_sends_beyond_the_item_are_declared_as_webex_declares_them(
    schema: dict[str, Any],
) -> None:
    for name, source in EXTRA.items():
        assert name not in ITEM["properties"], f"{name} is in the item now: drop it from EXTRA"
        declared = COMPONENTS[source]["properties"][name]
        assert _differences(declared, schema["properties"][name], name) == []
        assert schema["properties"][name]["description"] == declared["description"]


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "generate_schemas", ROOT / "scripts" / "generate_schemas.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_shipped_files_are_what_the_generator_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regenerated from the OpenAPI file into a scratch folder: the same bytes."""
    scripts = generator()
    assert set(scripts.STREAMS) == {*STREAMS, PARTICIPANTS}
    assert all(dict(scripts.STREAMS[stream].extra) == EXTRA for stream in STREAMS)
    (tmp_path / "schemas").mkdir()
    monkeypatch.setattr(scripts, "ROOT", tmp_path)  # where main() writes; it reads OPENAPI_FILE
    scripts.main()
    written = sorted(path.name for path in (tmp_path / "schemas").iterdir())
    assert written == sorted(f"{stream}.json" for stream in (*STREAMS, PARTICIPANTS))
    for name in written:
        assert (tmp_path / "schemas" / name).read_bytes() == (ROOT / "schemas" / name).read_bytes()


def test_nested_objects_are_typed_not_opaque(schema: dict[str, Any]) -> None:
    for name in NESTED_OBJECTS:
        node = schema["properties"][name]
        inner = node["items"] if "array" in _types(node) else node
        assert inner.get("properties") or "string" in _types(inner), name


def test_everything_but_the_primary_key_is_nullable(schema: dict[str, Any]) -> None:
    def non_nullable(node: dict[str, Any], path: str) -> list[str]:
        found = [] if "null" in _types(node) else [path]
        for name, child in node.get("properties", {}).items():
            found += non_nullable(child, f"{path}.{name}")
        if "items" in node:
            found += non_nullable(node["items"], f"{path}[]")
        return found

    assert non_nullable(schema, "meeting") == ["meeting", "meeting.id"]


def test_start_and_end_are_date_times(schema: dict[str, Any]) -> None:
    for name in ("start", "end"):
        assert schema["properties"][name]["format"] == "date-time"


def test_sensitive_fields_are_in_the_schema(schema: dict[str, Any]) -> None:
    assert set(SENSITIVE_FIELDS) <= schema["properties"].keys()


def test_unknown_enum_values_do_not_break_targets(schema: dict[str, Any]) -> None:
    assert "enum" not in json.dumps(schema)


def test_the_tap_describes_its_streams_with_the_generated_schema() -> None:
    """What the tap loads (and sends as SCHEMA) is what the OpenAPI file says, not merely
    the file this test reads; that the wheel carries the files is
    tests/integration/test_packaging.py's."""
    scripts = generator()
    tap = TapWebexMeetings(config={"access_token": "x"}, validate_config=False)
    assert sorted(tap.streams) == sorted((*STREAMS, PARTICIPANTS))
    for stream in tap.streams.values():
        generated = scripts.stream_schema(OPENAPI, scripts.STREAMS[stream.name])
        assert stream.schema == generated, stream.name


def test_participants_schema_is_the_openapi_participant_with_its_meeting_series() -> None:
    """Every ``Participant`` property (devices, breakout sessions typed), its times as
    date-times, ``meetingId`` never null and ``meetingSeriesId`` as meetings declare it."""
    schema = json.loads((ROOT / "schemas" / f"{PARTICIPANTS}.json").read_text())
    properties = dict(schema["properties"])
    series = properties.pop("meetingSeriesId")
    assert _differences(COMPONENTS["Participant"], {**schema, "properties": properties}, "p") == []
    assert _differences(ITEM["properties"]["meetingSeriesId"], series, "meetingSeriesId") == []
    assert properties["meetingId"]["type"] == "string"
    assert {name for name, node in properties.items() if node.get("format") == "date-time"} == {
        "joinedTime",
        "leftTime",
        "meetingStartTime",
    }
