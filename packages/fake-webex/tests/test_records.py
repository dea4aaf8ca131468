"""The fake Webex's records look like Webex's fullest: every documented property, every time.

A tap measured or tested on thinner records than Webex sends is flattered, so every record
type the sandbox serves is checked against Webex's OpenAPI file: the exact property set of
``MeetingObjectForListMeeting`` (plus ``hasSummary`` on instances, which Webex sends although
its reference does not list it), values of the declared type and enum, nested objects with
all their own properties. Plain HTTP, no tap code.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from fake_webex import DEFAULT_NOW, FakeWebex, bulk_series, default_series

UTC = timezone.utc
ROOT = Path(__file__).resolve().parents[3]  # the checkout
OPENAPI = json.loads((ROOT / "tests/openapi/webex-meeting.openapi.json").read_text())
COMPONENTS = OPENAPI["components"]["schemas"]
ITEM = COMPONENTS["MeetingObjectForListMeeting"]
UNDOCUMENTED_ON_INSTANCES = {"hasSummary"}
TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "boolean": bool,
    "number": (int, float),
    "object": dict,
    "array": list,
}
NESTED = (
    "telephony",
    "meetingOptions",
    "attendeePrivileges",
    "registration",
    "simultaneousInterpretation",
    "links",
    "trackingCodes",
    "audioConnectionOptions",
    "liveStream",
    "integrationTags",
)
# How to join does not apply to ended instances, so Webex leaves it out of them.
JOIN_ONLY = ("telephony",)
FROM, TO = "2025-01-01T00:00:00Z", "2027-06-01T00:00:00Z"
Record = dict[str, Any]


def _deref(node: dict[str, Any]) -> dict[str, Any]:
    return COMPONENTS[node["$ref"].rsplit("/", 1)[-1]] if "$ref" in node else node


def schema_problems(value: Any, node: dict[str, Any], path: str) -> list[str]:
    """Where ``value`` departs from the OpenAPI ``node`` (null is allowed everywhere)."""
    node = _deref(node)
    if value is None:
        return []
    if "properties" in node:
        if not isinstance(value, dict):
            return [f"{path}: {type(value).__name__}, expected an object"]
        found = [f"{path}.{name}: missing" for name in node["properties"].keys() - value.keys()]
        found += [f"{path}.{name}: not in the API" for name in value.keys() - node["properties"]]
        for name in value.keys() & node["properties"].keys():
            found += schema_problems(value[name], node["properties"][name], f"{path}.{name}")
        return found
    kind = node.get("type")
    if kind == "boolean" and not isinstance(value, bool):
        return [f"{path}: {value!r} is not a boolean"]
    if kind in TYPES and (
        not isinstance(value, TYPES[kind]) or (kind == "number" and value is True)
    ):
        return [f"{path}: {value!r} is not of type {kind}"]
    if "enum" in node and value not in node["enum"]:
        return [f"{path}: {value!r} not among {node['enum']}"]
    if kind == "array":
        return [p for i, v in enumerate(value) for p in schema_problems(v, node["items"], path)]
    return []


def record_problems(record: Record) -> list[str]:
    """The record's problems as Webex's documented list item (instances: + hasSummary)."""
    where = f"{record.get('meetingType')}/{record.get('state')} {record.get('id')}"
    extra = UNDOCUMENTED_ON_INSTANCES if record.get("meetingType") == "meeting" else set()
    documented = {k: v for k, v in record.items() if k not in extra}
    missing = [f"{where}: {name} missing" for name in extra - record.keys()]
    return missing + schema_problems(documented, ITEM, where)


def fetch_all(fake: FakeWebex, params: dict[str, str]) -> list[Record]:
    """Every item of a query, following ``Link: rel="next"`` as a client does."""
    headers = {"Authorization": "Bearer sandbox-token"}
    response = requests.get(
        f"{fake.api_url}/meetings", params={**params, "max": "100"}, headers=headers, timeout=10
    )
    items: list[Record] = []
    while True:
        response.raise_for_status()
        items += response.json()["items"]
        if "next" not in response.links:
            return items
        response = requests.get(response.links["next"]["url"], headers=headers, timeout=10)


def served(fake: FakeWebex) -> list[Record]:
    """Every series (discovered per host) and every meeting of it, as served over HTTP."""
    records: list[Record] = []
    for host in sorted({spec.host_email for spec in default_series(DEFAULT_NOW)}):
        window = {"from": FROM, "to": TO, "hostEmail": host}
        series = fetch_all(fake, {**window, "meetingType": "meetingSeries"})
        records += series
        for item in series:
            records += fetch_all(fake, {**window, "meetingSeriesId": item["id"]})
    return records


@pytest.fixture(scope="module")
def records() -> Iterator[list[Record]]:
    with FakeWebex() as fake:
        yield served(fake)


def test_every_record_type_and_state_is_served(records: list[Record]) -> None:
    kinds = {(r["meetingType"], r["state"]) for r in records}
    assert kinds == {
        ("meetingSeries", "active"),
        ("meetingSeries", "expired"),
        ("scheduledMeeting", "scheduled"),
        ("scheduledMeeting", "ready"),
        ("scheduledMeeting", "ended"),
        ("scheduledMeeting", "missed"),
        ("meeting", "inProgress"),
        ("meeting", "ended"),
    }


def test_every_record_has_every_documented_property(records: list[Record]) -> None:
    assert len(ITEM["properties"]) == 71
    problems = [p for record in records for p in record_problems(record)]
    assert problems == []


def test_the_checker_sees_a_missing_or_wrong_property(records: list[Record]) -> None:
    instance = next(r for r in records if r["meetingType"] == "meeting")
    thinner = {k: v for k, v in instance.items() if k not in ("roomId", "hasSummary")}
    where = f"meeting/{instance['state']} {instance['id']}"
    assert set(record_problems(thinner)) == {
        f"{where}: hasSummary missing",
        f"{where}.roomId: missing",
    }
    wrong = {**instance, "state": "lost", "meetingOptions": {"enabledChat": "yes"}}
    assert len(record_problems(wrong)) == 1 + 1 + 6  # bad enum, bad type, 6 options missing


def test_instances_and_only_instances_carry_has_summary(records: list[Record]) -> None:
    instances = [r for r in records if r["meetingType"] == "meeting"]
    assert all(isinstance(r["hasSummary"], bool) for r in instances)
    assert {r["hasSummary"] for r in instances if r["state"] == "ended"} == {True, False}
    assert not any("hasSummary" in r for r in records if r["meetingType"] != "meeting")


def test_series_with_every_option_fill_every_nested_object(records: list[Record]) -> None:
    full = {s.id for s in default_series(DEFAULT_NOW) if s.full_options}
    assert full
    for record in records:
        if record["id"] in full or record["meetingSeriesId"] in full:
            webinar = record["scheduledType"] == "webinar"
            ended = record["meetingType"] == "meeting" and record["state"] == "ended"
            expected_null = {"attendeePrivileges"} if webinar else set()
            if ended:
                expected_null |= set(JOIN_ONLY)
            nulls = {name for name in NESTED if record[name] in (None, [])}
            assert nulls == expected_null, (record["id"], nulls)
            interpretation = record["simultaneousInterpretation"]
            assert interpretation["enabled"]
            assert len(interpretation["interpreters"]) == 2


def test_ended_instances_leave_out_how_to_join(records: list[Record]) -> None:
    ended = [r for r in records if r["meetingType"] == "meeting" and r["state"] == "ended"]
    running = [r for r in records if r["meetingType"] == "meeting" and r["state"] == "inProgress"]
    assert ended
    assert running
    for name in ("meetingNumber", "password", "hostKey", "telephony", "sipAddress"):
        assert {r[name] for r in ended if not isinstance(r[name], dict)} <= {None}
        assert all(r[name] is not None for r in running)
    assert all(r["end"] is None and r["hostDidJoin"] for r in running)


def test_records_are_the_same_on_every_server() -> None:
    with FakeWebex() as first, FakeWebex() as second:
        assert served(first) == served(second)


def test_bulk_records_are_full_and_documented() -> None:
    specs = bulk_series(2, 3, now=DEFAULT_NOW)
    first = datetime(2026, 6, 17, tzinfo=UTC)
    window = {"from": first.isoformat(), "to": (first + timedelta(hours=3)).isoformat()}
    with FakeWebex(series=specs, now=DEFAULT_NOW) as fake:
        series = fetch_all(fake, {**window, "meetingType": "meetingSeries"})
        meetings = [
            m for s in series for m in fetch_all(fake, {**window, "meetingSeriesId": s["id"]})
        ]
    assert (len(series), len(meetings)) == (2, 6)
    for record in series + meetings:
        assert record_problems(record) == []
        assert [name for name in NESTED if record[name] in (None, [])] == []
        assert record["liveStream"]["resolution"] == "1920x1080"
