"""singer-sdk's standard tap tests, run against one fake Webex for the whole session.

``get_tap_test_class`` builds and syncs the tap when the class is created, outside any
fixture, so the server starts at import and stops when the interpreter exits.
"""

from __future__ import annotations

import atexit
import copy

from fake_webex import FakeWebex
from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_webex_meetings.tap import TapWebexMeetings
from tests.tap_runner import config_for, every_stream_selected

SESSION_SERVER = FakeWebex().start()
atexit.register(SESSION_SERVER.stop)

TestTapWebexMeetings = get_tap_test_class(
    tap_class=TapWebexMeetings,
    config=config_for(SESSION_SERVER, end_date="2026-07-15T00:00:00Z"),
    suite_config=SuiteConfig(max_records_limit=500),
    catalog=copy.deepcopy(every_stream_selected()),  # participants too (not selected by default)
)
