"""Authentication: a fixed bearer token, or a Webex integration's refresh token.

One authenticator serves every stream and worker of a run, so a token refreshed by one
request is the token of the next. Credentials live only here and in the request headers
the authenticator sets; no message of this module contains one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import requests
from singer_sdk.authenticators import BearerTokenAuthenticator, OAuthAuthenticator
from typing_extensions import override

from tap_webex_meetings import webex
from tap_webex_meetings.credentials import clean_access_token, clean_secret
from tap_webex_meetings.errors import TokenRefusedError
from tap_webex_meetings.settings import OAUTH_SETTINGS
from tap_webex_meetings.transport import WebexSession, token_adapter

logger = logging.getLogger(__name__)

# Refresh this long before the token's own expiry, so no request carries a dying token.
EXPIRY_MARGIN = timedelta(minutes=5)


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
        self._session = WebexSession(api_url, timeout, token_adapter())
        self.refresh_token = refresh_token
        self._timeout = timeout
        self._lock = threading.Lock()
        self.rotated = False
        # Whether Webex accepted the current access token at least once: a token refused
        # before it ever worked is not expired but useless, and refreshing again won't help.
        self.token_accepted = False

    @property
    @override
    def oauth_request_body(self) -> dict[str, Any]:
        """Form body of ``POST /access_token`` (grant_type=refresh_token)."""
        return {
            "grant_type": "refresh_token",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "refresh_token": self.refresh_token,
        }

    @override
    def is_token_valid(self) -> bool:
        """Valid until ``EXPIRY_MARGIN`` before ``expires_in`` runs out."""
        if self.last_refreshed is None or self.access_token is None:
            return False
        if not self.expires_in:
            return True
        age = datetime.now(timezone.utc) - self.last_refreshed
        return age < timedelta(seconds=self.expires_in) - EXPIRY_MARGIN

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
            try:
                # private singer-sdk attribute: the authenticator's own session (0.54)
                response = self._session.post(
                    self.auth_endpoint, data=self.oauth_request_body, timeout=self._timeout
                )
            except requests.RequestException as exc:
                raise TokenRefusedError(
                    f"Could not reach {self.auth_endpoint} to refresh the access token: "
                    f"{type(exc).__name__}"
                ) from None
            if response.status_code != 200:
                message, tracking_id = webex.error_details(response)
                details = f"{response.status_code}: {message}; trackingId {tracking_id}"
                if message.startswith("invalid_client"):  # OAuth's error for the client's pair
                    raise TokenRefusedError(
                        f"Webex refused the client_id or client_secret ({details}). Copy both "
                        "from your integration's page on developer.webex.com."
                    )
                raise TokenRefusedError(
                    f"Webex refused the refresh token ({details}). Refresh tokens expire after "
                    "90 days unused, or when the integration is re-authorised: authorise the "
                    "integration again and set the new refresh_token."
                )
            body = _token_body(response)
            self.access_token = body["access_token"]
            self.expires_in = body["expires_in"]
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


def _token_body(response: requests.Response) -> dict[str, Any]:
    """``access_token`` (a string), ``expires_in`` (seconds or None), ``refresh_token``."""
    try:
        body = response.json()
        token = body["access_token"]
        expires_in = int(body["expires_in"]) if body.get("expires_in") else None
    except (ValueError, TypeError, KeyError, AttributeError):
        body, token, expires_in = {}, None, None
    if not isinstance(token, str) or not token.strip():
        raise TokenRefusedError(
            f"{response.url.split('?')[0]} answered 200 without an access token; "
            "is api_url the Webex API?"
        )
    rotated = body.get("refresh_token")
    return {
        "access_token": token.strip(),
        "expires_in": expires_in,
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
