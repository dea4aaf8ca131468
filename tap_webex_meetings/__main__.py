"""``python -m tap_webex_meetings``: the same as the ``tap-webex-meetings`` command."""

from tap_webex_meetings.tap import TapWebexMeetings

TapWebexMeetings.cli()
