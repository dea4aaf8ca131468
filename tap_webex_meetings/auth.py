"""Authentication: a fixed bearer token, or a Webex integration's refresh token.

One authenticator serves every stream and worker of a run: a token refreshed by one request
is the next one's. No message of this module contains a credential.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from typing import Any

import requests
from singer_sdk.authenticators import BearerTokenAuthenticator, OAuthAuthenticator
from singer_sdk.exceptions import RetriableAPIError
from typing_extensions import override

from tap_webex_meetings import answers, webex
from tap_webex_meetings.credentials import clean_access_token, clean_secret
from tap_webex_meetings.errors import TokenRefusedError
from tap_webex_meetings.settings import OAUTH_SETTINGS
from tap_webex_meetings.transport import WebexSession
from tap_webex_meetings.webex import without_query

logger = logging.getLogger(__name__)

# Refresh this long before the token's own expiry (at most a tenth of a short lifetime, so
# a token of 60 s is used for 54 s), so no request carries a dying token.
EXPIRY_MARGIN = timedelta(minutes=5)
# The longest lifetime believed: Webex's access tokens live about 14 days.
MAX_TOKEN_LIFETIME = timedelta(days=14)


class WebexOAuthAuthenticator(OAuthAuthenticator):
    """Refresh-token flow of a Webex integration.

    Overrides :meth:`update_access_token` because singer-sdk 0.54.9 drops the rotated
    ``refresh_token`` Webex may return, and its error path logs the raw response body.
    """

    def __init__(
        self,
        *,
        api_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        timeout: float,
    ) -> None:
        super().__init__(
            auth_endpoint=f"{api_url}{webex.TOKEN_PATH}",
            client_id=client_id,
            client_secret=client_secret,
        )
        # private singer-sdk attribute: the authenticator's own session (0.54). Replaced so
        # that a redirect can never carry the form with the client secret off the origin.
        self._session = WebexSession(api_url, timeout)
        self.refresh_token = refresh_token
        self._timeout = timeout
        self._lock = threading.Lock()
        self.rotated = False
        # Whether Webex accepted the current access token at least once: a token refused
        # before it ever worked is not expired but useless, and refreshing again won't help.
        self.token_accepted = False
        self._odd_lifetime_said = False

    @property
    @override
    def oauth_request_body(self) -> dict[str, Any]:
        return {
            "grant_type": "refresh_token",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "refresh_token": self.refresh_token,
        }

    @override
    def is_token_valid(self) -> bool:
        """Valid until ``EXPIRY_MARGIN`` (or a tenth of a short lifetime) before it expires.

        Without a lifetime, until Webex refuses it (a 401 refreshes it then).
        """
        if self.last_refreshed is None or self.access_token is None:
            return False
        if not self.expires_in:
            return True
        lifetime = timedelta(seconds=self.expires_in)
        age = datetime.now(timezone.utc) - self.last_refreshed
        return age < lifetime - min(EXPIRY_MARGIN, lifetime / 10)

    def may_refresh_after_refusal(self, refused_token: str) -> bool:
        """After a 401: forget the refused token and retry, unless it never worked at all."""
        with self._lock:
            if refused_token != self.access_token:
                return True  # another request renewed it meanwhile: just retry
            if not self.token_accepted:
                return False
            self.last_refreshed = None
            return True

    @override
    def update_access_token(self) -> None:
        """Exchange the refresh token for an access token; keep a rotated refresh token."""
        with self._lock:
            if self.is_token_valid():
                return
            logger.info("Requesting a Webex access token with the refresh token")
            requested_at = datetime.now(timezone.utc)
            # private singer-sdk attribute: the authenticator's own session (0.54). A failure
            # to connect propagates: the request being sent is retried, refresh included.
            response = self._session.post(
                self.auth_endpoint, data=self.oauth_request_body, timeout=self._timeout
            )
            if response.status_code != HTTPStatus.OK:
                _refused(response)
            body = _token_body(response)
            self.access_token = body["access_token"]
            self.expires_in = self._lifetime(body["expires_in"])
            self.last_refreshed = requested_at
            self.token_accepted = False
            new_refresh_token = body.get("refresh_token")
            if new_refresh_token and new_refresh_token != self.refresh_token:
                self.refresh_token = str(new_refresh_token)
                if not self.rotated:
                    logger.warning(
                        "Webex issued a new refresh token; this run uses it. Replace the "
                        "configured refresh_token (the old one may stop working)."
                    )
                self.rotated = True

    def _lifetime(self, expires_in: Any) -> int | None:
        """Seconds the new token lives: ``expires_in`` as given, up to 14 days; None (until
        Webex refuses it) when it is not a positive number. An odd value is said once."""
        seconds = _seconds(expires_in)
        if seconds is not None and seconds > 0:
            lifetime = min(seconds, MAX_TOKEN_LIFETIME.total_seconds())
            if lifetime == seconds:
                return max(1, int(lifetime))
            problem = f"longer than {MAX_TOKEN_LIFETIME.days} days; refreshing it after that"
        else:
            lifetime, problem = None, "not a lifetime in seconds; using it until Webex refuses it"
        if not self._odd_lifetime_said:
            self._odd_lifetime_said = True
            logger.warning(
                "The token endpoint %s answered %s, %s",
                self.auth_endpoint,
                "no expires_in" if expires_in is None else f"expires_in {expires_in!r:.40}",
                problem,
            )
        return None if lifetime is None else int(lifetime)


def _seconds(value: Any) -> float | None:
    """A number of seconds from a JSON number or a numeric string; None when neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, (int, float)):
        seconds = float(value)  # an integer beyond a float's range overflows: not a lifetime
        return seconds if math.isfinite(seconds) else math.inf
    return None


def _refused(response: requests.Response) -> None:
    """Raise what a token endpoint's non-200 answer means: retry, or stop with advice.

    Only ``invalid_grant`` (400) says the refresh token itself is dead.
    """
    status = response.status_code
    message, tracking_id = answers.error_details(response)
    details = f"{status}: {message}; trackingId {tracking_id or 'not given'}"
    if status == HTTPStatus.TOO_MANY_REQUESTS or status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        raise RetriableAPIError(
            f"{status} {message} (trackingId {tracking_id or 'not given'}), for the access "
            f"token ({without_query(response.url)})",
            response,
        )
    if message.startswith("invalid_client"):  # OAuth's error for the client's pair
        raise TokenRefusedError(
            f"Webex refused the client_id or client_secret ({details}). Copy both "
            "from your integration's page on developer.webex.com."
        )
    if status == HTTPStatus.BAD_REQUEST and message.startswith("invalid_grant"):
        raise TokenRefusedError(
            f"Webex refused the refresh token ({details}). Refresh tokens expire after "
            "90 days unused, or when the integration is re-authorised: authorise the "
            "integration again and set the new refresh_token."
        )
    raise TokenRefusedError(
        f"The token endpoint {without_query(response.url)} refused the refresh ({details}); "
        "is api_url the Webex API?"
    )


def _token_body(response: requests.Response) -> dict[str, Any]:
    """``access_token`` (a string), ``expires_in`` (as sent, or None), ``refresh_token``."""
    try:
        body = answers.parse_json(response, any_number=True)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}
    token = body.get("access_token")
    if not isinstance(token, str) or not token.strip():
        raise TokenRefusedError(
            f"{without_query(response.url)} answered 200 without an access token; "
            "is api_url the Webex API?"
        )
    rotated = body.get("refresh_token")
    return {
        "access_token": token.strip(),
        "expires_in": body.get("expires_in"),
        "refresh_token": rotated.strip() if isinstance(rotated, str) else None,
    }


def authenticator_for(
    config: Mapping[str, Any], *, api_url: str, timeout: float
) -> WebexOAuthAuthenticator | BearerTokenAuthenticator:
    """The OAuth flow when a complete OAuth triple is set, else the fixed token."""
    if all(config.get(name) for name in OAUTH_SETTINGS):
        return WebexOAuthAuthenticator(
            api_url=api_url,
            client_id=clean_secret(config["client_id"]),
            client_secret=clean_secret(config["client_secret"]),
            refresh_token=clean_secret(config["refresh_token"]),
            timeout=timeout,
        )
    return BearerTokenAuthenticator(token=clean_access_token(config["access_token"]))
