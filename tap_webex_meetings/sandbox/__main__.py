"""``python -m tap_webex_meetings.sandbox``: same as ``tap-webex-meetings-sandbox``."""

from .cli import main

raise SystemExit(main())
