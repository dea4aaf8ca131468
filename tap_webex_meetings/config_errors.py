"""Bad settings as one style of message: ``setting: what is wrong (what is allowed)``.

The SDK words its JSON-schema errors for developers (``0 is less than the minimum of 1 in
config['page_size']``), turns a bad integer in an environment variable into a traceback and
a missing ``--config`` file into another. A user reads the same kind of line for each,
naming the setting, and never a secret's value.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any, cast

from jsonschema import ValidationError
from singer_sdk.typing import DEFAULT_JSONSCHEMA_VALIDATOR, extend_validator_with_defaults

# The SDK's validator: it also fills in the schema's defaults, which the streams rely on.
_VALIDATOR = extend_validator_with_defaults(DEFAULT_JSONSCHEMA_VALIDATOR)
_NOUNS = {
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
    "string": "a string",
}


def setting_of(message: str) -> str:
    """The setting a message is about: what comes before its first colon."""
    return message.split(":", 1)[0]


def schema_problems(config: MutableMapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """Every JSON-schema error of ``config``, worded for a user; fills in defaults."""
    errors = _VALIDATOR(schema).iter_errors(config)
    lines: dict[str, str] = {}
    for error in sorted(errors, key=lambda e: list(e.path)):
        line = _describe(error, schema)
        # The first line per setting: inf is both "not an integer" and "above the maximum".
        lines.setdefault(setting_of(line), line)
    return list(lines.values())


def unknown_settings(config: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, str | None]:
    """Each key of ``config`` the schema does not declare, with the setting it most likely meant.

    A misspelt ``meeting_serie_ids`` would otherwise be ignored, and the tap would extract
    every series of the organisation.
    """
    known = list(schema.get("properties", {}))
    return {
        key: next(iter(difflib.get_close_matches(key, known, n=1, cutoff=0.6)), None)
        for key in config
        if key not in known
    }


def unknown_setting_problem(key: str, meant: str | None) -> str:
    """``meeting_serie_ids: not a setting of this tap; did you mean meeting_series_ids?``."""
    if meant is None:
        return f"{key}: not a setting of this tap (tap-webex-meetings --about lists them)"
    return f"{key}: not a setting of this tap; did you mean {meant}?"


def environment_problems(
    schema: Mapping[str, Any], prefix: str, environ: Mapping[str, str]
) -> list[str]:
    """Values of ``<PREFIX><SETTING>`` variables that the SDK cannot convert.

    The SDK calls ``int()`` on integer settings and parses objects as JSON; anything else
    it passes on as text, for the schema check to judge.
    """
    found = []
    for name, spec in schema.get("properties", {}).items():
        raw = environ.get(prefix + name.upper().replace("-", "_"))
        if raw is None:
            continue
        types = _types(spec)
        if "integer" in types:
            try:
                int(raw)
            except ValueError:
                found.append(f"{name}: {_shown(raw, spec)} is not an integer{bounds_note(spec)}")
        elif "object" in types:
            try:
                json.loads(raw)
            except ValueError:
                found.append(f"{name}: {_shown(raw, spec)} is not a JSON object")
    return found


def config_file_problem(path: Path) -> str | None:
    """Why a ``--config`` file cannot be read as settings; None when it can."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return "no such file"
    except IsADirectoryError:
        return "is a directory, not a file"
    except PermissionError:
        return "permission denied"
    except (OSError, UnicodeDecodeError) as exc:
        return f"cannot be read ({type(exc).__name__})"
    try:
        value = json.loads(text, parse_constant=_not_json)
    except json.JSONDecodeError as exc:
        return f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
    except ValueError as exc:  # NaN, Infinity: Python reads them, singer-sdk does not
        return f"not valid JSON ({exc})"
    if not isinstance(value, dict):
        return "not a JSON object of settings"
    return None


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number")


def _describe(error: ValidationError, schema: Mapping[str, Any]) -> str:
    if error.validator == "required":
        given = error.instance if isinstance(error.instance, Mapping) else {}
        missing = [n for n in cast("list[str]", error.validator_value) if n not in given]
        return f"{', '.join(missing)}: required but not set"
    name = _path_name(error.path)
    spec = error.schema if isinstance(error.schema, Mapping) else {}
    value = _shown(error.instance, _property(schema, error.path))
    bound = error.validator_value
    if error.validator == "type":
        return f"{name}: {value} is not {_noun(spec)}{bounds_note(spec)}"
    if error.validator == "minimum":
        return f"{name}: {value} is below the minimum {bound}{bounds_note(spec)}"
    if error.validator == "maximum":
        return f"{name}: {value} is above the maximum {bound}{bounds_note(spec)}"
    if error.validator == "exclusiveMinimum":
        return f"{name}: {value} must be greater than {bound}"
    if error.validator == "enum":
        allowed = ", ".join(str(v) for v in cast("list[Any]", bound) if v is not None)
        return f"{name}: {value} is not one of {allowed}"
    return f"{name}: {error.message}"


def _path_name(path: Any) -> str:
    """``host_emails[1]`` for the second item of ``host_emails``."""
    name = ""
    for part in path:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "settings"


def _property(schema: Mapping[str, Any], path: Any) -> Mapping[str, Any]:
    """The top-level property an error is about (where ``secret`` is declared)."""
    parts = list(path)
    spec = schema.get("properties", {}).get(parts[0]) if parts else None
    return spec if isinstance(spec, Mapping) else {}


def _shown(value: Any, spec: Mapping[str, Any]) -> str:
    """The value as a user typed it, unless the setting is a secret."""
    if spec.get("secret") or spec.get("writeOnly"):
        return "the value given"
    return repr(value)


def _types(spec: Mapping[str, Any]) -> set[str]:
    types = spec.get("type", [])
    return ({types} if isinstance(types, str) else set(types)) - {"null"}


def _noun(spec: Mapping[str, Any]) -> str:
    types = sorted(_types(spec))
    return " or ".join(_NOUNS.get(t, t) for t in types) or "valid"


def bounds_note(spec: Mapping[str, Any]) -> str:
    """`` (1..100)`` with both bounds, `` (> 0, at most 3600)``, `` (>= 0)``, or nothing."""
    low, high = spec.get("minimum"), spec.get("maximum")
    exclusive = spec.get("exclusiveMinimum")
    if low is not None and high is not None:
        return f" ({low}..{high})"
    if exclusive is not None and high is not None:
        return f" (> {exclusive}, at most {high})"
    if low is not None:
        return f" (>= {low})"
    if exclusive is not None:
        return f" (> {exclusive})"
    if high is not None:
        return f" (at most {high})"
    return ""
