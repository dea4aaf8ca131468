"""``python -m fake_webex``: same as ``tap-webex-meetings-sandbox``."""

from .cli import main

raise SystemExit(main())
