"""Credentials: cleaned as pasted, and kept out of every log line.

- A token from ``echo`` ends in a newline, one copied from ``curl`` starts with ``Bearer ``:
  both are cleaned; what cannot be (a line break inside) is a setting problem, unquoted.
- What log lines quote (a proxy's page, an OAuth error echoing its form, an exception) may
  hold a credential or control characters that forge a line of their own:
  :class:`SecretFilter` redacts every credential of the run and escapes controls.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from typing_extensions import override

# Sent in a header: what ``requests`` accepts in one, and what a token never contains.
TOKEN_SETTINGS = ("access_token", "client_id", "client_secret", "refresh_token")
PASSWORD_SETTING = "meeting_password"
REDACTED = "<redacted>"
# Shorter values are not credentials worth hiding and would mangle ordinary words.
MIN_SECRET_LENGTH = 4
# C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")


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


def escape_controls(text: str, pattern: re.Pattern[str] = _CONTROL) -> str:
    """``text`` with each control character as ``repr`` writes it (``\\n``, ``\\x1b``)."""
    return pattern.sub(lambda match: repr(match.group())[1:-1], text)


def redact(text: str, secrets: Iterable[object]) -> str:
    """``text`` with every secret (a non-trivial string) replaced by ``<redacted>``."""
    for secret in sorted(_usable(secrets), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def _usable(secrets: Iterable[object]) -> set[str]:
    found: set[str] = set()
    for secret in secrets:
        if isinstance(secret, str):
            # as given, cleaned, and as a repr quotes it (a line break as \\n)
            forms = (secret, secret.strip(), repr(secret)[1:-1], repr(secret.strip())[1:-1])
            found |= {form for form in forms if len(form) >= MIN_SECRET_LENGTH}
    return found


class SecretFilter(logging.Filter):
    """Rewrites a log record whose message or traceback holds a credential or a control."""

    def __init__(self, secrets: Callable[[], Iterable[object]]) -> None:
        super().__init__()
        self.secrets = secrets

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        secrets = _usable(self.secrets())
        cleaned = escape_controls(redact(message, secrets) if secrets else message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:  # a traceback keeps its own line breaks
            record.exc_text = escape_controls(
                redact(record.exc_text, secrets), _CONTROL_BUT_NEWLINE
            )
        if record.stack_info:
            record.stack_info = redact(record.stack_info, secrets)
        return True


def install(secrets: Callable[[], Iterable[object]]) -> None:
    """Put a :class:`SecretFilter` on every handler of the root logger (once per handler)."""
    for handler in logging.getLogger().handlers:
        existing = [f for f in handler.filters if isinstance(f, SecretFilter)]
        if existing:
            existing[0].secrets = secrets
        else:
            handler.addFilter(SecretFilter(secrets))
