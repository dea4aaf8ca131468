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


class NotFoundError(WebexAPIError):
    """Webex answered 404: what was asked for (a series, a meeting) is gone or not visible.

    Each stream decides what that means: for meetings, a deleted series or meeting.
    """


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


class ForeignOriginError(FatalAPIError):
    """A link or redirect led away from ``api_url``'s origin: credentials never go there."""

    def __init__(self, url: str, origin: str) -> None:
        super().__init__(
            f"Refused to send a request to {url[:300]}: it is not on api_url's origin "
            f"({origin}), and the token, the meeting password and the client secret go "
            "there only. A proxy or server in between linked or redirected there."
        )


class ResponseTooLargeError(FatalAPIError):
    """A body larger than any Webex answer: a proxy, a server in between, or an attack."""

    def __init__(self, url: str, subject: str, cap_mib: int) -> None:
        super().__init__(
            f"The response to {url}, for {subject}, is larger than {cap_mib} MiB once "
            "decoded (a Webex page is about 0.3 MB); stopped reading it. Something between "
            "the tap and Webex sent it: check api_url and any proxy."
        )


class NoProgressError(FatalAPIError):
    """Paging went on without listing anything new: following it would never end."""


class StreamMapError(FatalAPIError):
    """A ``stream_maps`` expression failed on a record (see :mod:`stream_maps`)."""


class LoaderStoppedError(FatalAPIError):
    """The loader reading the tap's output exited (a broken pipe): nothing more is written."""

    def __init__(self) -> None:
        super().__init__(
            "The loader stopped reading (exit of the process downstream): stopping, nothing "
            "more is written; its own log says why it stopped"
        )
