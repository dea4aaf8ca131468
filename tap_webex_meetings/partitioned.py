"""A Webex stream with one state partition per parent record, incremental on a date-time.

What singer-sdk 0.54 gets wrong for such a stream at organisation scale, fixed once so that
every such stream gets the fixes by subclassing :class:`PartitionedStream`:

- it finds a partition by scanning all of them, per call: :class:`~state.IndexedStateManager`
  finds it by key;
- it compares bookmarks as strings, so ``start`` values in mixed UTC offsets compare wrongly
  (meltano/sdk#2753): :func:`~state.advance_bookmark` moves a partition's progress marker as a UTC
  instant;
- no bookmark passes the run's start, though upcoming meetings are emitted (the signpost);
- it narrates every partition at INFO ("Beginning sync of ..."): DEBUG here.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from tap_webex_meetings import timeutils
from tap_webex_meetings.client import WebexStream
from tap_webex_meetings.state import IndexedStateManager, advance_bookmark

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record


class PartitionedStream(WebexStream):
    """Base of a child stream: a partition per parent record, a date-time replication key."""

    # Webex does not promise an order: the SDK keeps progress markers and moves the bookmark
    # only when a partition is complete, capped at the run's start (see the signpost).
    is_sorted = False

    @cached_property
    def _indexed_state_manager(self) -> IndexedStateManager:
        return IndexedStateManager(
            tap_name=self.tap_name,
            stream_name=self.name,
            tap_state=self.tap_state,
            state_partitioning_keys=self.state_partitioning_keys,
            is_sorted=self.is_sorted,
            check_sorted=self.check_sorted,
        )

    @property
    @override
    def state_manager(self) -> IndexedStateManager:
        """The SDK's manager finds a partition by scanning all of them, per call."""
        return self._indexed_state_manager

    @override
    def log(self, message: str, *args: Any, level: int = logging.INFO, **kwargs: Any) -> None:
        """The SDK narrates every partition ("Beginning sync of ..."): DEBUG, INFO stays short."""
        super().log(
            message, *args, level=logging.DEBUG if level == logging.INFO else level, **kwargs
        )

    @override
    def get_replication_key_signpost(self, context: Context | None = None) -> datetime:
        """No bookmark passes the run's start, though upcoming meetings are emitted."""
        return self.webex_tap.policy.now

    def note_record(self, record: Record, context: Context | None) -> None:
        """Called for every record written: move its partition's bookmark (override to add)."""
        value = record.get(self.replication_key or "")
        if isinstance(value, str) and value and self.replication_key:
            advance_bookmark(
                self.get_context_state(context),
                self.replication_key,
                timeutils.parse_api_timestamp(value),
            )

    @override  # private singer-sdk hook; meltano/sdk#2753 (bookmarks compared as strings)
    def _increment_stream_state(
        self, latest_record: Record, *, context: Context | None = None
    ) -> None:
        """:meth:`note_record` instead of the SDK's string comparison.

        A private hook (singer-sdk 0.54 has no public one per record): the SDK compares
        bookmarks as strings, so mixed UTC offsets compare wrongly, it scans every partition
        per record, and it warns once per partition that unsorted progress is not resumable
        (a partition resumes from its last bookmark, which is what we want). A test fails if
        the SDK stops calling it (bookmarks: tests/test_sync.py).
        """
        self.note_record(latest_record, context)
