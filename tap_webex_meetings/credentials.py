"""Credentials as pasted, made usable: whitespace around them and a ``Bearer `` prefix go.

A token written to a secret file with ``echo`` ends in a newline, and one copied from a
``curl`` command starts with ``Bearer ``; requests would refuse the header, quoting it in a
traceback. What cannot be cleaned (a line break inside) is a setting problem named before
any request, without the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Sent in a header: what ``requests`` accepts in one, and what a token never contains.
TOKEN_SETTINGS = ("access_token", "client_id", "client_secret", "refresh_token")
PASSWORD_SETTING = "meeting_password"


def clean_secret(value: Any) -> str:
    """``value`` without the whitespace around it ("" when it is not a string)."""
    return value.strip() if isinstance(value, str) else ""


def clean_access_token(value: Any) -> str:
    """:func:`clean_secret`, and without a ``Bearer `` prefix copied from a header."""
    token = clean_secret(value)
    scheme, _, rest = token.partition(" ")
    return rest.strip() if scheme.lower() == "bearer" and rest.strip() else token


def problems(config: Mapping[str, Any]) -> list[str]:
    """Credentials that stay unusable once cleaned; the message never holds the value."""
    found = []
    for name in TOKEN_SETTINGS:
        value = config.get(name)
        cleaned = clean_access_token(value) if name == "access_token" else clean_secret(value)
        if cleaned and not all("!" <= char <= "~" for char in cleaned):
            found.append(
                f"{name}: has a space, line break or non-ASCII character inside, which no "
                "Webex credential has (paste it again, alone)"
            )
    password = clean_secret(config.get(PASSWORD_SETTING))
    if password and not all(" " <= char <= "~" or "\xa0" <= char <= "\xff" for char in password):
        found.append(
            f"{PASSWORD_SETTING}: has a line break or a character an HTTP header cannot carry"
        )
    return found
