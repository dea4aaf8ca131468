"""A local fake Webex Meetings API: for the tap's tests, a user sandbox and benchmarks.

The standard library (and typing_extensions), so it runs wherever the tap runs; see
:class:`FakeWebex`.
"""

from .clock import DEFAULT_NOW
from .faults import PRESETS, Faults
from .listing import LINK_QUIRKS
from .replies import RecordedRequest
from .samples import bulk_series, default_series, history_series
from .series import SeriesSpec
from .server import FakeWebex
from .tokens import DEFAULT_TOKEN, Token

__all__ = [
    "DEFAULT_NOW",
    "DEFAULT_TOKEN",
    "LINK_QUIRKS",
    "PRESETS",
    "FakeWebex",
    "Faults",
    "RecordedRequest",
    "SeriesSpec",
    "Token",
    "bulk_series",
    "default_series",
    "history_series",
]
