"""A local fake Webex Meetings API: for the tap's tests, a user sandbox and benchmarks.

The standard library (and typing_extensions), so it runs wherever the tap runs; see
:class:`FakeWebex`.
"""

from .faults import PRESETS, Faults
from .samples import bulk_series, default_series
from .series import SeriesSpec
from .server import DEFAULT_NOW, DEFAULT_TOKEN, LINK_QUIRKS, FakeWebex, RecordedRequest, Token

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
]
