"""Errors the tap stops on, each worded for the person who reads the log.

They subclass singer-sdk's ``FatalAPIError`` so the SDK does not retry them. ``tap.py``
prints their message as one ERROR line and exits non-zero; the traceback goes to DEBUG.
"""

from __future__ import annotations

from singer_sdk.exceptions import FatalAPIError, RetriableAPIError


class WebexAPIError(FatalAPIError):
    """Webex answered a request with an error that retrying will not fix."""

    def __init__(
        self, status: int, message: str, tracking_id: str | None, advice: str = ""
    ) -> None:
        self.status = status
        self.webex_message = message
        self.tracking_id = tracking_id
        text = f"Webex API error {status}: {message} (trackingId {tracking_id or 'not given'})"
        super().__init__(f"{text}. {advice}".strip() if advice else text)


class SeriesNotFoundError(WebexAPIError):
    """One meeting series is unknown or not visible: the other series go on."""


class TokenRefusedError(FatalAPIError):
    """No usable access token: it was refused, or could not be refreshed."""


class PagingLoopError(FatalAPIError):
    """Webex linked back to a page already read: following it would never end."""

    def __init__(self, url: str) -> None:
        super().__init__(
            f"Webex returned a next-page link that was already followed ({url}); stopping "
            "instead of paging in a loop. Please report this to Webex support with the link."
        )


class AccessTokenExpiredError(RetriableAPIError):
    """Webex refused an OAuth access token that worked before: refresh it, then retry."""
