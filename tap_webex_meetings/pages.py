"""One query's pages: followed through Webex's ``Link`` header, checked before believed.

client.py makes sure a page *is* a listing (``items`` a list) or a lookup's body *is* a
meeting, else the request fails and is retried. What is on a page is checked here, as the
records of one query (one ``request_records`` call) go by:

- an entry that is not a record (for meetings: no string ``id``, one that cannot go into a
  URL, no ``start`` that parses) is skipped with one WARNING naming it and the series, and
  counted: one bad record must not stop every later run of a warehouse;
- an entry of a series' listing that belongs to another series is skipped the same way: an
  answer about something else is not believed;
- a meeting listed twice in one query is emitted once;
- paging that brings nothing new is stopped: :data:`STALL_LIMIT` pages in a row without a
  new meeting that still link further.

More instances than Webex's cap are accepted (a limit it may raise): see :mod:`listing`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import requests
from singer_sdk.pagination import HeaderLinkPaginator
from typing_extensions import override

from tap_webex_meetings import webex
from tap_webex_meetings.errors import NoProgressError, PagingLoopError

# Pages in a row without a new meeting that may still link on (a real first page can be
# empty and link to the next one).
STALL_LIMIT = 3


class PageEnd(dict[str, Any]):
    """Closes each page among what ``parse_response`` returns; :class:`QueryGuard` drops it."""

    def __init__(self, *, has_next: bool) -> None:
        super().__init__()
        self.has_next = has_next


class QueryGuard:
    """Checks the records of one query as they are read (see the module docstring).

    Ids already listed are kept as their 64-bit hashes (about 60 bytes each): a series of
    200,000 meetings costs 12 MB while it is read, and two ids of one query sharing a hash
    (odds of about 1 in 10^9 at that size) would drop one of them.
    """

    def __init__(
        self,
        subject: str,
        logger: logging.Logger,
        on_skipped: Callable[[], None],
        problem_of: Callable[[Any], str | None] = webex.meeting_problem,
        series_id: str | None = None,
    ) -> None:
        self._subject = subject
        self._logger = logger
        self._on_skipped = on_skipped
        self._problem_of = problem_of
        self._series_id = series_id  # the series listed, if one is

    def records(self, items: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """The meetings of ``items`` (pages closed by :class:`PageEnd`), each once."""
        seen: set[int] = set()
        stalled = entry = 0
        new_on_page = False
        for item in items:
            if isinstance(item, PageEnd):
                stalled = 0 if new_on_page else stalled + 1
                if item.has_next and stalled >= STALL_LIMIT:
                    raise NoProgressError(
                        f"Webex returned {stalled} pages in a row without a new meeting for "
                        f"{self._subject}, each linking to another; stopping instead of paging "
                        "forever"
                    )
                new_on_page, entry = False, 0
                continue
            entry += 1
            if problem := self._problem_of(item):
                self._skip(item, entry, problem)
                continue
            if self._series_id is not None and (owner := webex.other_series(item, self._series_id)):
                self._logger.warning(
                    "Skipping meeting %s listed for series %s: it belongs to series %s",
                    item["id"],
                    self._series_id,
                    owner,
                )
                self._on_skipped()
                continue
            key = hash(item["id"])
            if key in seen:
                continue
            seen.add(key)
            new_on_page = True
            yield item

    def _skip(self, item: Any, entry: int, problem: str) -> None:
        meeting_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(meeting_id, str) or not meeting_id:
            name = f"entry {entry} of a page"
        elif webex.path_problem(meeting_id):
            name = f"meeting {meeting_id[:100]!r}"  # quoted: it may hold control characters
        else:
            name = f"meeting {meeting_id}"
        self._logger.warning(
            "Skipping %s of %s, which is not a meeting: %s",
            name,
            self._subject,
            problem,
        )
        self._on_skipped()


class WebexLinkPaginator(HeaderLinkPaginator):
    """singer-sdk's ``Link: <...>; rel="next"`` paginator, reading Webex's link repaired."""

    def __init__(self) -> None:
        super().__init__()
        self._followed: set[str] = set()

    @override
    def get_next_url(self, response: requests.Response) -> str | None:
        """The next page's URL (see :func:`webex.next_page_url`); a link followed before
        stops the run (the SDK only spots the same link twice in a row)."""
        url = webex.next_page_url(response)
        if url is not None:
            if url in self._followed:
                raise PagingLoopError(url)
            self._followed.add(url)
        return url

    @override
    def continue_if_empty(self, response: requests.Response) -> bool:
        """An empty page may still link to more: keep following the link, if any."""
        return True
