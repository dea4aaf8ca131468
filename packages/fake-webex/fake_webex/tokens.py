"""Who may call the fake Webex: bearer tokens, their expiry, and the OAuth refresh grant.

The token settings stay plain attributes of the fake (tests change them while it runs);
:class:`Auth` reads them at each request.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from typing import Protocol

from .replies import ApiError, RecordedRequest, Reply, error_reply, json_reply

DEFAULT_TOKEN = "sandbox-token"
DEFAULT_EMAIL = "alice@example.com"
ADMIN_SCOPE = "meeting:admin_schedule_read"


@dataclass(frozen=True)
class Token:
    """A bearer token; ``admin`` grants meeting:admin_schedule_read (for ``hostEmail``)."""

    email: str
    admin: bool = False
    expires_after_requests: int | None = None


class TokenSettings(Protocol):
    """The token settings of a fake Webex."""

    tokens: dict[str, Token]
    oauth_clients: dict[str, str]
    refresh_tokens: set[str]
    rotate_refresh_tokens: bool
    token_lifetime_seconds: int
    refresh_token_lifetime_seconds: int
    oauth_email: str


class Auth:
    """Checks bearer tokens (counting their uses) and answers ``POST /v1/access_token``."""

    def __init__(self, settings: TokenSettings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._uses: dict[str, int] = {}

    def authenticate(self, request: RecordedRequest) -> Token:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        value = value.strip()
        if scheme.lower() != "bearer" or not value:
            raise ApiError(
                401,
                "The request requires a valid access token set in the Authorization "
                "request header.",
            )
        with self._lock:
            token = self._settings.tokens.get(value)
            if token is None:
                raise ApiError(401, "The provided access token is invalid.")
            uses = self._uses[value] = self._uses.get(value, 0) + 1
        if token.expires_after_requests is not None and uses > token.expires_after_requests:
            raise ApiError(401, "The provided access token has expired.")
        if request.params.get("hostEmail", [""])[-1] and not token.admin:
            raise ApiError(
                403,
                f"hostEmail requires the {ADMIN_SCOPE} scope: the caller is not an admin.",
            )
        return token

    def refresh(self, request: RecordedRequest) -> Reply:
        """The refresh-token grant: a new access token (and refresh token, when rotating)."""
        settings = self._settings
        form = {name: values[-1] for name, values in request.params.items()}
        try:
            if form.get("grant_type") != "refresh_token":
                raise ApiError(
                    400, "grant_type must be refresh_token.", oauth_error="unsupported_grant_type"
                )
            client_id = form.get("client_id", "")
            if not client_id or settings.oauth_clients.get(client_id) != form.get("client_secret"):
                raise ApiError(
                    401, "Invalid client_id or client_secret.", oauth_error="invalid_client"
                )
            with self._lock:
                refresh = form.get("refresh_token", "")
                if refresh not in settings.refresh_tokens:
                    raise ApiError(
                        400, "The refresh token is invalid or expired.", oauth_error="invalid_grant"
                    )
                access = f"sandbox-at-{secrets.token_urlsafe(24)}"
                settings.tokens[access] = Token(settings.oauth_email, admin=True)
                if settings.rotate_refresh_tokens:
                    settings.refresh_tokens.discard(refresh)
                    refresh = f"sandbox-rt-{secrets.token_urlsafe(24)}"
                    settings.refresh_tokens.add(refresh)
        except ApiError as exc:
            return error_reply(exc.status, exc.message, oauth_error=exc.oauth_error)
        return json_reply(
            200,
            {
                "access_token": access,
                "expires_in": settings.token_lifetime_seconds,
                "refresh_token": refresh,
                "refresh_token_expires_in": settings.refresh_token_lifetime_seconds,
                "token_type": "Bearer",
            },
        )
