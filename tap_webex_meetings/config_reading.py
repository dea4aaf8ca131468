"""How the tap reads its settings: every bad one reported at once, each as one line.

The SDK's hooks for the ``--config`` files, the ``TAP_WEBEX_MEETINGS_*`` environment and
validation, overridden where the SDK's answer is a traceback or names no setting.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, cast

import click
from singer_sdk import Tap
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers._classproperty import classproperty
from singer_sdk.plugin_base import PluginBase, _ConfigInput
from typing_extensions import override

from tap_webex_meetings import config_checks, config_errors


class ConfigReadingTap(Tap):
    """The base of the tap: its settings read and validated (the SDK's hooks)."""

    @override  # private singer-sdk hook: no public one adds checks (no upstream issue yet)
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Report every bad setting at once, before any request, each once, in one style.

        Settings the tap does not know (a typo, named with the setting it likely meant), the
        schema's errors (reworded, see :mod:`config_errors`) and then what a schema cannot
        express (:func:`config_checks.problems`). Overridden (a private hook, but the only
        one) so both lists come together, and so that discovery, which needs no settings,
        does not warn about them.
        """
        schema = self.config_jsonschema
        self.append_builtin_config(schema)
        config_checks.read_text_values(self._config)
        unknown = config_errors.unknown_settings(self._config, schema)
        errors = [
            config_errors.unknown_setting_problem(key, meant) for key, meant in unknown.items()
        ]
        # A setting missing because its name was misspelt: the typo's line says so already.
        meant = {name for name in unknown.values() if name and name not in self._config}
        errors += [
            problem
            for problem in config_errors.schema_problems(self._config, schema)
            if not set(config_errors.setting_of(problem).split(", ")) & meant
        ]
        reported = {config_errors.setting_of(error) for error in errors} | meant
        errors += [
            problem
            for problem in config_checks.problems(self._config, now=datetime.now(timezone.utc))
            if not set(config_errors.setting_of(problem).split(", ")) & reported
        ]
        if raise_errors and not errors:
            for note in config_checks.meeting_ids_in_series_ids(self._config):
                self.logger.warning("%s; extracting the other series", note)
        if errors and raise_errors:
            raise ConfigValidationError("Config validation failed", errors=errors)
        return errors

    @classproperty  # private singer-sdk hook (no upstream issue yet), covered by
    @override  # tests/test_cli_messages.py::test_a_bad_integer_in_the_environment_names_the_setting
    def _env_var_config(cls) -> dict[str, Any]:  # noqa: N805
        """Settings from ``TAP_WEBEX_MEETINGS_*``; a value the SDK cannot convert is named.

        Overridden because the SDK's ``int('abc')`` is a traceback that names no setting.
        """
        parse: Callable[[type[PluginBase]], dict[str, Any]] = PluginBase.__dict__[
            "_env_var_config"
        ].fget
        try:
            return parse(cast("type[PluginBase]", cls))
        except ValueError:
            schema = cls.config_jsonschema
            errors = config_errors.environment_problems(schema, cls._env_var_prefix, os.environ)
            raise ConfigValidationError(
                "Config validation failed", errors=errors or ["settings: cannot be parsed"]
            ) from None

    @classmethod
    @override
    def cb_config(
        cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]
    ) -> _ConfigInput:
        """Read the ``--config`` files; one that cannot be read is one line, exit code 1.

        Overridden because the SDK lets the error out as a traceback.
        """
        for path in value:
            if path != "ENV" and (problem := config_errors.config_file_problem(Path(path))):
                cls.logger.error("--config: %s: %s", path, problem)
                ctx.exit(1)
        return super().cb_config(ctx, param, value)
