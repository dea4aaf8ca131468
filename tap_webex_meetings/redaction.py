"""Every log line is safe to read: no credential, and one event is one line.

The tap's own messages never contain a credential; what they quote may (a proxy's error
page, an OAuth server echoing the form it was sent, an exception's text). :class:`SecretFilter`
sits on the log handlers and replaces every credential of the run, as configured and as
issued since (refreshed access tokens, a rotated refresh token), before a line is written.

What they quote may also hold control characters: an id or a Webex error message with a
line break would forge a line of its own (``... INFO ... Extracted 9 series``), an ANSI
escape would reach the terminal. The same filter writes each of them as ``repr`` does
(``\\n``, ``\\x1b``), in the message and in a traceback (whose own line breaks stay).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable

from typing_extensions import override

REDACTED = "<redacted>"
# Shorter values are not credentials worth hiding and would mangle ordinary words.
MIN_SECRET_LENGTH = 4
# C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")


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
    """Rewrites a log record whose message or traceback holds a credential."""

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
        if record.exc_text:
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
